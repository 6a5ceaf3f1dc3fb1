package sdk

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// TestLoggerSpeaksHclogJSON: plugin log lines must be parsed by go-plugin's
// host (keys @level, @message, @timestamp in hclog's layout), or they would
// reach the core's log as unstructured debug text.
func TestLoggerSpeaksHclogJSON(t *testing.T) {
	var buf bytes.Buffer
	old := stderr
	stderr = &buf
	t.Cleanup(func() { stderr = old })
	Logger().Warn("carrier lost", "port", "X1")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %q", buf.String())
	}
	if m["@level"] != "warn" || m["@message"] != "carrier lost" || m["port"] != "X1" {
		t.Fatalf("log line = %v", m)
	}
	if _, err := time.Parse(hclogTimeFormat, m["@timestamp"].(string)); err != nil {
		t.Fatalf("@timestamp: %v", err)
	}
}

func TestHandshakeIsGRPCOnlyAndVersioned(t *testing.T) {
	if len(AllowedProtocols) != 1 || AllowedProtocols[0] != plugin.ProtocolGRPC {
		t.Fatalf("AllowedProtocols = %v", AllowedProtocols)
	}
	vp := VersionedPlugins(nil)
	if _, ok := vp[ProtocolVersion][PluginName].(plugin.GRPCPlugin); !ok || Handshake.MagicCookieKey != "TANDEM_PLUGIN" {
		t.Fatalf("VersionedPlugins = %v, handshake %+v", vp, Handshake)
	}
	o := NewLinkObservation(time.Unix(5, 0), &LinkEvent{Port: "X1", Up: true})
	if !ObservationTime(o).Equal(time.Unix(5, 0)) || !o.GetLink().GetUp() {
		t.Fatalf("observation = %v", o)
	}
}
