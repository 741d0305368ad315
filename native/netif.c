/*
 * The network inside the container's net namespace: an interface up, its IPv4 address, the
 * default route (ifup, ifaddr, route-default), with the SIOC* ioctls (no netlink needed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "execdriver-init.h"

/* An AF_INET socket and an ifreq naming interface NAME, for the SIOC* ioctls; -1 on failure. */
static int if_socket(const char *name, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof *ifr);
	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return errno = EINVAL, fail(name, "invalid interface name %s", name);
	strcpy(ifr->ifr_name, name);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fail(name, "open a socket to configure %s", name);
	return s;
}

int op_ifup(char **a)
{
	struct ifreq ifr;
	int s = if_socket(a[1], &ifr), rc = 0;
	if (s < 0)
		return -1;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		rc = fail(a[1], "read the flags of interface %s", a[1]);
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		rc = fail(a[1], "bring up interface %s", a[1]);
	close(s);
	return rc;
}

/* An IPv4 address (dotted quad) in a sockaddr, as the SIOC* ioctls take it; -1 if it is not one. */
static int in_addr_of(const char *text, struct sockaddr *sa)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	memset(in, 0, sizeof *in);
	in->sin_family = AF_INET;
	if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
		return errno = EINVAL, fail(text, "invalid IPv4 address %s", text);
	return 0;
}

/* ifaddr NAME ADDR PREFIXLEN BROADCAST: the interface's IPv4 address, netmask and broadcast */
int op_ifaddr(char **a)
{
	unsigned long long len;
	struct ifreq ifr;
	char mask[INET_ADDRSTRLEN];
	if (arg(a[3], 10, 32, &len, "prefix length") < 0)
		return -1;
	uint32_t bits = len ? htonl(~0u << (32 - len)) : 0;
	if (!inet_ntop(AF_INET, &bits, mask, sizeof mask))
		return fail(a[1], "format the netmask of %s", a[1]);
	int s = if_socket(a[1], &ifr), rc = 0;
	if (s < 0)
		return -1;
	if (in_addr_of(a[2], &ifr.ifr_addr) < 0 || ioctl(s, SIOCSIFADDR, &ifr) < 0)
		rc = fail(a[1], "set address %s on %s", a[2], a[1]);
	if (rc == 0 && (in_addr_of(mask, &ifr.ifr_netmask) < 0 || ioctl(s, SIOCSIFNETMASK, &ifr) < 0))
		rc = fail(a[1], "set netmask %s on %s", mask, a[1]);
	if (rc == 0 && (in_addr_of(a[4], &ifr.ifr_broadaddr) < 0 || ioctl(s, SIOCSIFBRDADDR, &ifr) < 0))
		rc = fail(a[1], "set broadcast %s on %s", a[4], a[1]);
	close(s);
	return rc;
}

/* route-default GATEWAY: the default IPv4 route, via GATEWAY */
int op_route_default(char **a)
{
	struct rtentry rt = { 0 };
	struct sockaddr_in any = { .sin_family = AF_INET };
	memcpy(&rt.rt_dst, &any, sizeof any);
	memcpy(&rt.rt_genmask, &any, sizeof any);
	if (in_addr_of(a[1], &rt.rt_gateway) < 0)
		return -1;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	if (s < 0)
		return fail(a[1], "open a socket to add a route");
	if (ioctl(s, SIOCADDRT, &rt) < 0)
		rc = fail(a[1], "add the default route via %s", a[1]);
	close(s);
	return rc;
}
