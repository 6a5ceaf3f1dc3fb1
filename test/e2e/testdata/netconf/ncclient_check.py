#!/usr/bin/env python3
"""Drives tandem's NETCONF server with ncclient (Debian's python3-ncclient).

Run by test/e2e/netconf_test.go against a tandemd it starts:
    ncclient_check.py --host H --port P --user U --password PW --base 1.0|1.1
Every check prints "ok <name>"; the first failed assertion prints the reason
and exits 1.
"""
import argparse
import sys
import threading
import time
import traceback

from lxml import etree
from ncclient import manager
from ncclient.devices.default import DefaultDeviceHandler
from ncclient.operations import RPCError
from ncclient.transport.session import NetconfBase
from ncclient.xml_ import to_ele

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
HA = "urn:tandem:yang:tandem-ha"
IF = "urn:tandem:yang:tandem-interfaces"
OPS = "urn:tandem:yang:tandem-operations"
MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YLIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"


class Base10Handler(DefaultDeviceHandler):
    """A client that only speaks base:1.0 (end-of-message framing)."""
    _BASE_CAPABILITIES = ["urn:ietf:params:netconf:base:1.0"]


ARGS = None


def connect():
    params = {}
    if ARGS.base == "1.0":
        params["device_params"] = {"handler": Base10Handler}
    return manager.connect(host=ARGS.host, port=ARGS.port, username=ARGS.user, password=ARGS.password,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30, **params)


def xp(reply, path, ns=None):
    ns = ns or {"ha": HA, "if": IF, "nc": BASE, "mon": MON, "ylib": YLIB, "ops": OPS}
    return reply.data_ele.xpath(path, namespaces=ns) if hasattr(reply, "data_ele") else reply.xpath(path, namespaces=ns)


def heartbeat(m, source):
    r = m.get_config(source=source, filter=("subtree", '<ha xmlns="%s"><config><heartbeat-interval/></config></ha>' % HA))
    v = xp(r, "ha:ha/ha:config/ha:heartbeat-interval/text()")
    return v[0] if v else None


def hb_config(value, op=None):
    attr = ' xmlns:nc="%s" nc:operation="%s"' % (BASE, op) if op else ""
    return ('<config xmlns="%s"><ha xmlns="%s"><config%s><heartbeat-interval>%s</heartbeat-interval></config></ha></config>'
            % (BASE, HA, attr, value))


def iface_config(name, op, zone=None):
    body = "<config><zone>%s</zone></config>" % zone if zone else ""
    return ('<config xmlns="%s"><interfaces xmlns="%s" xmlns:nc="%s"><interface nc:operation="%s"><name>%s</name>%s</interface></interfaces></config>'
            % (BASE, IF, BASE, op, name, body))


def zone_of(m, name, source="candidate"):
    r = m.get_config(source=source, filter=("xpath", ({"if": IF}, "/if:interfaces/if:interface[if:name='%s']" % name)))
    entries = xp(r, "if:interfaces/if:interface")
    if not entries:
        return None
    z = entries[0].xpath("if:config/if:zone/text()", namespaces={"if": IF})
    return z[0] if z else ""


def expect_error(tag, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except RPCError as e:
        assert e.tag == tag, "expected error-tag %s, got %s: %s" % (tag, e.tag, e.message)
        return e
    raise AssertionError("expected rpc-error %s, the operation succeeded" % tag)


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def hello_and_capabilities(m):
    assert m.session_id, "no session-id"
    caps = set(m.server_capabilities)
    for c in ["urn:ietf:params:netconf:base:1.0", "urn:ietf:params:netconf:base:1.1",
              "urn:ietf:params:netconf:capability:writable-running:1.0",
              "urn:ietf:params:netconf:capability:candidate:1.0",
              "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
              "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
              "urn:ietf:params:netconf:capability:validate:1.1",
              "urn:ietf:params:netconf:capability:xpath:1.0",
              "urn:ietf:params:netconf:capability:notification:1.0",
              "urn:ietf:params:netconf:capability:interleave:1.0"]:
        assert c in caps, "capability %s missing" % c
    assert any(c.startswith("urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit") for c in caps)
    assert any(c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1") for c in caps)
    want = NetconfBase.BASE_11 if ARGS.base == "1.1" else NetconfBase.BASE_10
    assert m._session._base == want, "framing %s, want %s" % (m._session._base, want)


@check
def get_and_get_config_filters(m):
    r = m.get_config(source="running")
    assert xp(r, "ha:ha/ha:config/ha:mode"), "get-config lacks /ha/config/mode"
    r = m.get(filter=("xpath", ({"ha": HA}, "/ha:ha/ha:config/ha:mode")))
    assert xp(r, "ha:ha/ha:config/ha:mode/text()") == ["standalone"], etree.tostring(r.data_ele)
    r = m.get(filter=("subtree", '<system xmlns="urn:tandem:yang:tandem-system"><state/></system>'))
    assert xp(r, "s:system/s:state/s:running-revision", {"nc": BASE, "s": "urn:tandem:yang:tandem-system"}), \
        "state missing from get: %s" % etree.tostring(r.data_ele)
    r = m.get(filter=("subtree", '<netconf-state xmlns="%s"><sessions/></netconf-state>' % MON))
    ids = xp(r, "mon:netconf-state/mon:sessions/mon:session/mon:session-id/text()")
    assert str(m.session_id) in ids, "own session %s not in %s" % (m.session_id, ids)


@check
def lock_edit_validate_commit_unlock(m):
    with m.locked("candidate"):
        m.edit_config(target="candidate", config=hb_config(240))
        m.validate(source="candidate")
        assert heartbeat(m, "running") != "240", "running changed before commit"
        m.commit()
    assert heartbeat(m, "running") == "240"


@check
def edit_operations(m):
    m.discard_changes()
    m.edit_config(target="candidate", config=iface_config("X5", "create", "dmz"))
    assert zone_of(m, "X5") == "dmz"
    e = expect_error("data-exists", m.edit_config, target="candidate", config=iface_config("X5", "create", "dmz"))
    assert "X5" in (e.path or ""), "error-path %r" % e.path
    m.edit_config(target="candidate", config=iface_config("X5", "merge", "wan"))
    assert zone_of(m, "X5") == "wan"
    m.edit_config(target="candidate", config=iface_config("X5", "replace"))
    assert zone_of(m, "X5") == ""
    m.edit_config(target="candidate", config=iface_config("X5", "delete"))
    assert zone_of(m, "X5") is None
    expect_error("data-missing", m.edit_config, target="candidate", config=iface_config("X5", "delete"))
    m.edit_config(target="candidate", config=iface_config("X5", "remove"))
    # default-operation none: only the explicit merge below applies.
    m.edit_config(target="candidate", default_operation="none", config=(
        '<config xmlns="%s"><interfaces xmlns="%s" xmlns:nc="%s"><interface><name>X6</name>'
        '<config nc:operation="merge"><zone>lan</zone></config></interface></interfaces></config>' % (BASE, IF, BASE)))
    assert zone_of(m, "X6") == "lan"
    # test-only changes nothing.
    m.edit_config(target="candidate", test_option="test-only", config=iface_config("X7", "create", "lan"))
    assert zone_of(m, "X7") is None
    # rollback-on-error: the failing edit leaves nothing behind.
    bad = ('<config xmlns="%s"><interfaces xmlns="%s" xmlns:nc="%s">'
           '<interface nc:operation="create"><name>X8</name></interface>'
           '<interface nc:operation="delete"><name>X9</name></interface></interfaces></config>' % (BASE, IF, BASE))
    expect_error("data-missing", m.edit_config, target="candidate", error_option="rollback-on-error", config=bad)
    assert zone_of(m, "X8") is None, "rollback-on-error kept part of the edit"
    # continue-on-error: the good part applies, the error is reported.
    expect_error("data-missing", m.edit_config, target="candidate", error_option="continue-on-error", config=bad)
    assert zone_of(m, "X8") == "", "continue-on-error did not apply the good edit"
    m.discard_changes()
    assert zone_of(m, "X6") is None, "discard-changes kept X6"


@check
def validation_errors_name_rules(m):
    e = expect_error("invalid-value", m.edit_config, target="candidate", config=hb_config("fast"))
    assert "heartbeat-interval" in e.path, e.path
    e = expect_error("invalid-value", m.edit_config, target="candidate",
                     config='<config xmlns="%s"><ha xmlns="%s"><config><stateful-sync>true</stateful-sync></config></ha></config>' % (BASE, HA))
    assert e.app_tag == "MODE-2", "error-app-tag %r, want the SPEC rule MODE-2" % e.app_tag
    assert e.path.startswith("/ha:ha"), e.path
    expect_error("unknown-element", m.edit_config, target="candidate",
                 config='<config xmlns="%s"><ha xmlns="%s"><nonsense/></ha></config>' % (BASE, HA))
    expect_error("operation-not-supported", m.dispatch, to_ele('<frobnicate xmlns="%s"/>' % BASE))


@check
def writable_running(m):
    m.edit_config(target="running", config=hb_config(320))
    assert heartbeat(m, "running") == "320"
    assert heartbeat(m, "candidate") == "320", "a clean candidate follows running"


@check
def copy_and_delete_config(m):
    m.edit_config(target="candidate", config=hb_config(330))
    m.copy_config(source="running", target="candidate")
    assert heartbeat(m, "candidate") == "320", "copy-config running->candidate"
    m.edit_config(target="candidate", config=hb_config(340))
    m.copy_config(source="candidate", target="running")
    assert heartbeat(m, "running") == "340", "copy-config candidate->running"
    full = m.get_config(source="running").data_ele
    cfg = etree.Element("{%s}config" % BASE)
    for child in full:
        cfg.append(child)
    cfg.find("{%s}ha/{%s}config/{%s}heartbeat-interval" % (HA, HA, HA)).text = "350"
    src = etree.Element("{%s}source" % BASE)
    src.append(cfg)
    m.copy_config(source=src, target="candidate")
    assert heartbeat(m, "candidate") == "350", "copy-config inline config->candidate"
    m.delete_config(target="candidate")
    r = m.get_config(source="candidate")
    assert len(r.data_ele) == 0, "delete-config left %s" % etree.tostring(r.data_ele)
    expect_error("invalid-value", m.delete_config, target="running")
    m.discard_changes()
    assert heartbeat(m, "candidate") == "340"


@check
def with_defaults(m):
    flt = ("subtree", '<ha xmlns="%s"><config/></ha>' % HA)
    r = m.get_config(source="running", filter=flt, with_defaults="report-all-tagged")
    tagged = r.data_ele.xpath("//*[@wd:default='true']", namespaces={"wd": "urn:ietf:params:xml:ns:netconf:default:1.0"})
    assert tagged, "report-all-tagged tagged nothing: %s" % etree.tostring(r.data_ele)
    r = m.get_config(source="running", filter=flt, with_defaults="trim")
    assert not xp(r, "//ha:election-delay"), "trim kept election-delay (default 0)"
    r = m.get_config(source="running", filter=flt, with_defaults="report-all")
    assert xp(r, "//ha:election-delay/text()") == ["0"], etree.tostring(r.data_ele)


@check
def confirmed_commit_timeout_rolls_back(m):
    before = heartbeat(m, "running")
    m.edit_config(target="candidate", config=hb_config(360))
    m.commit(confirmed=True, timeout="2")
    assert heartbeat(m, "running") == "360"
    deadline = time.time() + 15
    while heartbeat(m, "running") != before:
        assert time.time() < deadline, "confirmed commit was not rolled back after its timeout"
        time.sleep(0.2)


@check
def confirmed_commit_persist_and_cancel(m):
    before = heartbeat(m, "running")
    m.edit_config(target="candidate", config=hb_config(370))
    m.commit(confirmed=True, timeout="120", persist="nc-token")
    other = connect()
    try:
        expect_error("invalid-value", other.commit, persist_id="wrong-token")
        other.commit(persist_id="nc-token")
    finally:
        other.close_session()
    assert heartbeat(m, "running") == "370"
    m.edit_config(target="candidate", config=hb_config(380))
    m.commit(confirmed=True, timeout="120")
    m.cancel_commit()
    assert heartbeat(m, "running") == "370", "cancel-commit did not restore"
    expect_error("operation-failed", m.cancel_commit)
    del before


@check
def lock_contention_and_kill_session(m):
    other = connect()
    other.lock("running")
    e = expect_error("lock-denied", m.lock, "running")
    assert str(other.session_id) in str(e.info), "lock-denied does not name session %s: %s" % (other.session_id, e.info)
    expect_error("in-use", m.edit_config, target="running", config=hb_config(390))
    m.kill_session(str(other.session_id))
    m.lock("running")
    m.unlock("running")


@check
def parallel_sessions(m):
    errors = []

    def worker(i):
        try:
            s = connect()
            for _ in range(5):
                r = s.get_config(source="running")
                assert xp(r, "ha:ha"), "no /ha"
            s.close_session()
        except Exception as e:  # collected and reported below
            errors.append("session %d: %r" % (i, e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


@check
def schemas_and_yang_library(m):
    text = m.get_schema("tandem-ha", format="yang").data
    assert text.strip().startswith("module tandem-ha"), text[:80]
    r = m.get(filter=("subtree", '<netconf-state xmlns="%s"><schemas/></netconf-state>' % MON))
    ids = xp(r, "//mon:schema/mon:identifier/text()")
    for mod in ["tandem-ha", "tandem-system", "tandem-operations"]:
        assert mod in ids, "%s not in schemas %s" % (mod, ids)
    r = m.get(filter=("subtree", '<yang-library xmlns="%s"/>' % YLIB))
    names = xp(r, "//ylib:module-set/ylib:module/ylib:name/text()")
    assert "tandem-ha" in names and "ietf-netconf" in names, names
    assert xp(r, "//ylib:content-id/text()"), "no content-id"


@check
def tandem_operations(m):
    r = m.dispatch(to_ele('<validate xmlns="%s"/>' % OPS))
    assert r.ok, r
    m.edit_config(target="candidate", config=hb_config(410))
    r = m.dispatch(to_ele('<commit xmlns="%s"><comment>by ncclient</comment></commit>' % OPS))
    rev = to_ele(r.xml).xpath("//ops:revision/text()", namespaces={"ops": OPS})
    assert rev, "commit rpc returned no revision: %s" % r.xml
    assert heartbeat(m, "running") == "410"
    e = expect_error("invalid-value", m.dispatch, to_ele('<rollback xmlns="%s"><n>0</n></rollback>' % OPS))
    del e


@check
def notifications(m):
    sub = connect()
    try:
        sub.create_subscription(start_time="2000-01-01T00:00:00Z")
        replayed = []
        while True:
            n = sub.take_notification(block=True, timeout=10)
            assert n is not None, "no replayComplete"
            if "replayComplete" in n.notification_xml:
                break
            replayed.append(n.notification_xml)
        assert any("daemon-start" in x for x in replayed), "daemon-start not replayed"
        m.edit_config(target="running", config=hb_config(420))
        deadline = time.time() + 10
        while True:
            n = sub.take_notification(block=True, timeout=10)
            assert n is not None and time.time() < deadline, "no notification for the commit"
            if "ha-event" in n.notification_xml and "420" not in n.notification_xml and "revision" in n.notification_xml.lower():
                break
        # interleave: rpcs work on the subscribed session
        assert heartbeat(sub, "running") == "420"
    finally:
        sub.close_session()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=830)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--base", choices=["1.0", "1.1"], required=True)
    ARGS = p.parse_args()
    m = connect()
    for fn in CHECKS:
        try:
            fn(m)
        except Exception:
            print("FAIL %s (base:%s)" % (fn.__name__, ARGS.base))
            traceback.print_exc()
            return 1
        print("ok %s (base:%s)" % (fn.__name__, ARGS.base))
    m.close_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
