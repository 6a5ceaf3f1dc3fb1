#!/usr/bin/env python3
"""The HA-role rules over NETCONF on the lab pair (CFG-1, CLU-11).

Run by test/e2e/netconf_test.go from the lab's client namespace:
    pair_check.py --active IP --active-password PW --standby IP --standby-password PW
"""
import argparse
import sys
import time

from ncclient import manager
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
HA = "urn:tandem:yang:tandem-ha"
OPS = "urn:tandem:yang:tandem-operations"
EDIT = ('<config xmlns="%s"><ha xmlns="%s"><config><rtt-warning-threshold>%d</rtt-warning-threshold></config></ha></config>'
        % (BASE, HA, 160))


def connect(host, password):
    return manager.connect(host=host, port=830, username="admin", password=password, hostkey_verify=False,
                           look_for_keys=False, allow_agent=False, timeout=30)


def refused(fn, rule, *a, **kw):
    try:
        fn(*a, **kw)
    except RPCError as e:
        assert e.tag == "access-denied", "error-tag %s: %s" % (e.tag, e.message)
        assert e.app_tag == rule, "error-app-tag %r, want %s (%s)" % (e.app_tag, rule, e.message)
        assert "standby" in e.message or "active" in e.message, e.message
        return
    raise AssertionError("the standby accepted an operation %s forbids" % rule)


def role(m):
    r = m.get(filter=("subtree", '<ha xmlns="%s"><state><role/></state></ha>' % HA))
    v = r.data_ele.xpath("ha:ha/ha:state/ha:role/text()", namespaces={"ha": HA})
    return v[0] if v else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--active", required=True)
    p.add_argument("--active-password", required=True)
    p.add_argument("--standby", required=True)
    p.add_argument("--standby-password", required=True)
    a = p.parse_args()
    active = connect(a.active, a.active_password)
    standby = connect(a.standby, a.standby_password)
    assert role(active) == "active" and role(standby) == "standby", (role(active), role(standby))

    # SPEC: CFG-1 - the standby reads but refuses configuration changes.
    standby.get_config(source="running")
    refused(standby.edit_config, "CFG-1", target="candidate", config=EDIT)
    refused(standby.edit_config, "CFG-1", target="running", config=EDIT)
    refused(standby.lock, "CFG-1", "candidate")
    print("ok standby refuses configuration (CFG-1)")

    # SPEC: CLU-11 - synchronize settings runs on the active only; the
    # read-only sync-test runs anywhere.
    refused(standby.dispatch, "CLU-11", to_ele('<sync-settings xmlns="%s"/>' % OPS))
    refused(standby.dispatch, "CLU-11", to_ele('<failover xmlns="%s"/>' % OPS))
    r = active.dispatch(to_ele('<sync-settings xmlns="%s"/>' % OPS))
    assert "<revision" in r.xml, r.xml
    try:
        standby.dispatch(to_ele('<sync-test xmlns="%s"/>' % OPS))
    except RPCError as e:
        assert e.tag != "access-denied", "sync-test refused on the standby: %s" % e.message
    print("ok operations follow the HA role (CLU-11)")

    # A failover over NETCONF; the standby's subscriber is told.
    standby.create_subscription()
    active.dispatch(to_ele('<failover xmlns="%s"/>' % OPS))
    deadline = time.time() + 20
    seen = []
    while True:
        n = standby.take_notification(block=True, timeout=5)
        if n is not None:
            seen.append(n.notification_xml)
            if "<type>role-change</type>" in n.notification_xml and "-&gt; active" in n.notification_xml:
                break
        assert time.time() < deadline, "no role-change notification after failover: %s" % seen
    deadline = time.time() + 20
    while role(standby) != "active":
        assert time.time() < deadline, "fw2 did not become active"
        time.sleep(0.2)
    # The roles swapped: the new active takes configuration.
    standby.edit_config(target="running", config=EDIT)
    refused(active.edit_config, "CFG-1", target="running", config=EDIT)
    print("ok failover over NETCONF, notification received, roles swapped")
    active.close_session()
    standby.close_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
