"""cidr_to_range: '10.0.0.0/8' -> '10.0.0.0-10.255.255.255', the form coturn's denied/allowed-peer-ip take."""

import ipaddress


def cidr_to_range(value):
    net = ipaddress.ip_network(str(value), strict=False)
    if net.num_addresses == 1:
        return str(net.network_address)
    return f"{net.network_address}-{net.broadcast_address}"


class FilterModule:
    def filters(self):
        return {"cidr_to_range": cidr_to_range}
