package topo

// PairConfig is the first configuration of both lab units: an
// active/standby pair of lab-model units with the LAN (X0) and WAN (X1)
// virtual addresses, each unit's monitoring addresses, the HA control link
// on X2 and the backup heartbeat path on X3, 100 ms heartbeats, stateful
// sync on (its stream runs on the control link, UDP 8735).
const PairConfig = `{
  "tandem-ha:ha": {
    "config": {
      "mode": "active-standby",
      "pre-shared-key": "tandem-lab-pre-shared-key",
      "heartbeat-interval": 100,
      "stateful-sync": true,
      "failover-trigger-level": 3
    },
    "devices": {
      "device": [
        {"serial-number": "LAB-FW1", "config": {"serial-number": "LAB-FW1", "designation": "primary", "model": "lab"}},
        {"serial-number": "LAB-FW2", "config": {"serial-number": "LAB-FW2", "designation": "secondary", "model": "lab"}}
      ]
    },
    "links": {
      "link": [
        {"function": "control", "config": {"function": "control", "port": "X2",
          "primary-address": "169.254.10.1/29", "secondary-address": "169.254.10.2/29"}},
        {"function": "backup-control", "config": {"function": "backup-control", "port": "X3",
          "primary-address": "169.254.11.1/29", "secondary-address": "169.254.11.2/29"}}
      ]
    }
  },
  "tandem-interfaces:interfaces": {
    "interface": [
      {"name": "X0", "config": {"name": "X0", "zone": "lan", "ipv4-address": ["192.0.2.1/24"]}},
      {"name": "X1", "config": {"name": "X1", "zone": "wan", "ipv4-address": ["198.51.100.1/24"]}}
    ]
  },
  "tandem-ha-monitoring:monitoring": {
    "interfaces": {
      "interface": [
        {"name": "X0", "config": {"name": "X0", "physical-monitoring": true},
          "ipv4": {"config": {"primary-address": "192.0.2.2", "secondary-address": "192.0.2.3", "allow-management": true}}},
        {"name": "X1", "config": {"name": "X1", "physical-monitoring": true},
          "ipv4": {"config": {"primary-address": "198.51.100.2", "secondary-address": "198.51.100.3"}}}
      ]
    }
  },
  "tandem-platform:platform": {"config": {"model": "lab"}}
}
`
