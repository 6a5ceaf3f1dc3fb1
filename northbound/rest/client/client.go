// Package client is a Go client of tandem's REST API with the methods of
// the local socket client (northbound/local), so that tandemctl manages a
// remote unit exactly as it manages the local one. Its configuration
// (address, credentials, trust) comes from a small JSON file.
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/local"
	"github.com/tandem-ha/tandem/northbound/rest/rcpath"
	"github.com/tandem-ha/tandem/northbound/rest/schema"
	"github.com/tandem-ha/tandem/northbound/service"
)

// Config is where and as whom to connect: the tandemctl config file.
type Config struct {
	// URL is the unit's REST API, such as https://192.0.2.1.
	URL string `json:"url"`
	// User and Password are HTTP basic credentials; Token a bearer token
	// (used when set).
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// CAFile is a PEM file of the certificates to trust (the unit's
	// self-signed certificate, from <data dir>/tls/cert.pem); empty uses
	// the system roots.
	CAFile string `json:"ca_file,omitempty"`
	// Insecure skips certificate verification (lab use only).
	Insecure bool `json:"insecure,omitempty"`
}

// LoadConfig reads a config file.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.URL == "" {
		return c, fmt.Errorf("%s: url is missing, such as \"https://192.0.2.1\"", path)
	}
	return c, nil
}

// loadCerts reads the PEM certificates of a file.
func loadCerts(path string) ([]*x509.Certificate, *x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("ca_file %s: %w", path, err)
		}
		certs = append(certs, c)
		pool.AddCert(c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("ca_file %s: no PEM certificate", path)
	}
	return certs, pool, nil
}

// Client talks to one unit's REST API.
type Client struct {
	cfg  Config
	base string
	http *http.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want https://HOST[:PORT]", cfg.URL)
	}
	tc := &tls.Config{InsecureSkipVerify: cfg.Insecure} //nolint:gosec // only when the config file asks
	if cfg.CAFile != "" && !cfg.Insecure {
		pinned, pool, err := loadCerts(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		// A unit's self-signed certificate names no address the unit is
		// reached at, so the exact certificate of ca_file is trusted
		// whatever the name (pinning); any other must chain to ca_file
		// and match the name.
		tc.InsecureSkipVerify = true //nolint:gosec // verified below
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			for _, p := range pinned {
				if bytes.Equal(p.Raw, leaf.Raw) {
					return nil
				}
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: pool, Intermediates: inter}); err != nil {
				return fmt.Errorf("server certificate is not the one in %s nor signed by it: %w", cfg.CAFile, err)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.URL, "/"), http: &http.Client{Transport: tr}}, nil
}

// APIError is an error answer: the status and the ietf-restconf:errors.
type APIError struct {
	Code   int
	Errors []ErrorEntry
}

// ErrorEntry is one entry of an ietf-restconf:errors body.
type ErrorEntry struct {
	Type    string `json:"error-type"`
	Tag     string `json:"error-tag"`
	AppTag  string `json:"error-app-tag"`
	Path    string `json:"error-path"`
	Message string `json:"error-message"`
	Info    struct {
		Rule string `json:"rule"`
		Fix  string `json:"fix"`
	} `json:"error-info"`
}

// Error renders each entry on a line, validation issues as
// "path: rule: message; fix: fix".
func (e *APIError) Error() string {
	var issues, other []string
	for _, x := range e.Errors {
		if x.Info.Rule != "" {
			issues = append(issues, fmt.Sprintf("  %s: %s: %s; fix: %s", x.Path, x.Info.Rule, x.Message, x.Info.Fix))
		} else {
			other = append(other, x.Message)
		}
	}
	if len(issues) > 0 {
		return fmt.Sprintf("commit refused: %d validation error(s)\n%s", len(issues), strings.Join(issues, "\n"))
	}
	if len(other) == 0 {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return strings.Join(other, "\n")
}

const (
	mediaData  = "application/yang-data+json"
	mediaPatch = "application/yang-patch+json"
	candidate  = "/restconf/ds/ietf-datastores:candidate"
	ops        = "/restconf/operations/tandem-operations:"
)

// do sends a request and decodes a JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path, ctype string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", mediaData+", application/json")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("tandemd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		ae := &APIError{Code: resp.StatusCode}
		var eb struct {
			Errors struct {
				Error []ErrorEntry `json:"error"`
			} `json:"ietf-restconf:errors"`
		}
		if json.Unmarshal(data, &eb) == nil {
			ae.Errors = eb.Errors.Error
		}
		// A refused YANG patch answers ietf-yang-patch:yang-patch-status.
		var ps struct {
			Status struct {
				Errors struct {
					Error []ErrorEntry `json:"error"`
				} `json:"errors"`
				EditStatus struct {
					Edit []struct {
						Errors struct {
							Error []ErrorEntry `json:"error"`
						} `json:"errors"`
					} `json:"edit"`
				} `json:"edit-status"`
			} `json:"ietf-yang-patch:yang-patch-status"`
		}
		if len(ae.Errors) == 0 && json.Unmarshal(data, &ps) == nil {
			ae.Errors = ps.Status.Errors.Error
			for _, e := range ps.Status.EditStatus.Edit {
				ae.Errors = append(ae.Errors, e.Errors.Error...)
			}
		}
		if len(ae.Errors) == 0 {
			ae.Errors = []ErrorEntry{{Message: fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(data))}}
		}
		return ae
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (c *Client) authorize(req *http.Request) {
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	} else if c.cfg.User != "" {
		req.SetBasicAuth(c.cfg.User, c.cfg.Password)
	}
}

// operate runs an rpc with input (nil: none) and decodes its output.
func (c *Client) operate(ctx context.Context, name string, input, output any) error {
	var body []byte
	if input != nil {
		var err error
		if body, err = json.Marshal(map[string]any{"tandem-operations:input": input}); err != nil {
			return err
		}
	}
	var wrapped struct {
		Output json.RawMessage `json:"tandem-operations:output"`
	}
	if err := c.do(ctx, http.MethodPost, ops+name, mediaData, body, &wrapped); err != nil {
		return err
	}
	if output != nil && len(wrapped.Output) > 0 {
		return json.Unmarshal(wrapped.Output, output)
	}
	return nil
}

// target converts a core/model path to its RESTCONF form.
func target(path string) (rcpath.Target, error) {
	s, err := schema.Load()
	if err != nil {
		return rcpath.Target{}, err
	}
	if path == "/" || path == "" {
		return rcpath.Target{}, nil
	}
	return rcpath.FromModelPath(s, path)
}

// Status returns the unit summary.
func (c *Client) Status(ctx context.Context) (service.Status, error) {
	var st service.Status
	return st, c.do(ctx, http.MethodGet, "/tandem/v1/status", "", nil, &st)
}

// Config returns running, candidate or a revision as RFC 7951 JSON.
func (c *Client) Config(ctx context.Context, datastore string) ([]byte, error) {
	var path string
	switch datastore {
	case "", "running":
		path = "/restconf/ds/ietf-datastores:running?content=config"
	case "candidate":
		path = candidate
	default:
		path = "/tandem/v1/revisions/" + url.PathEscape(datastore)
	}
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, path, "", nil, &raw)
	return raw, err
}

// Set merges value (RFC 7951 JSON) into the candidate at path.
func (c *Client) Set(ctx context.Context, path string, value json.RawMessage) error {
	t, err := target(path)
	if err != nil {
		return err
	}
	if t.Root() {
		return fmt.Errorf("set %s: name a node below the root", path)
	}
	patch := map[string]any{"ietf-yang-patch:yang-patch": map[string]any{
		"patch-id": "tandemctl-set",
		"edit": []any{map[string]any{"edit-id": "set", "operation": "merge", "target": "/" + t.URL(),
			"value": map[string]any{t.Steps[0].Module + ":" + t.Last().Name(): value}}},
	}}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPatch, candidate, mediaPatch, body, nil)
}

// Delete removes the node at path from the candidate.
func (c *Client) Delete(ctx context.Context, path string) error {
	t, err := target(path)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, candidate+"/"+t.URL(), "", nil, nil)
}

// Load replaces the candidate with a whole configuration.
func (c *Client) Load(ctx context.Context, config []byte) error {
	return c.do(ctx, http.MethodPut, candidate, mediaData, config, nil)
}

// revision reads the history entry of revision id.
func (c *Client) revision(ctx context.Context, id uint64) (store.RevisionInfo, error) {
	h, err := c.History(ctx, 5)
	if err != nil {
		return store.RevisionInfo{ID: id}, err
	}
	for _, r := range h {
		if r.ID == id {
			return r, nil
		}
	}
	return store.RevisionInfo{ID: id}, nil
}

// Commit commits the candidate.
func (c *Client) Commit(ctx context.Context, req local.CommitRequest) (store.RevisionInfo, error) {
	in := map[string]any{}
	if req.Comment != "" {
		in["comment"] = req.Comment
	}
	if req.ConfirmTimeout != "" {
		d, err := time.ParseDuration(req.ConfirmTimeout)
		if err != nil || d <= 0 {
			return store.RevisionInfo{}, fmt.Errorf("confirm timeout %q: want a positive duration such as 2m", req.ConfirmTimeout)
		}
		in["confirm-timeout"] = int((d + time.Second - 1) / time.Second)
	}
	var out service.RevisionOutput
	if err := c.operate(ctx, "commit", in, &out); err != nil {
		return store.RevisionInfo{}, err
	}
	return c.revision(ctx, out.Revision)
}

// Confirm confirms a pending confirmed commit.
func (c *Client) Confirm(ctx context.Context) error { return c.operate(ctx, "confirm", nil, nil) }

// Discard drops the candidate's changes.
func (c *Client) Discard(ctx context.Context) error { return c.operate(ctx, "discard", nil, nil) }

// Rollback makes the configuration of n commits ago running again.
func (c *Client) Rollback(ctx context.Context, n int, comment string) (store.RevisionInfo, error) {
	var out service.RevisionOutput
	in := map[string]any{"n": n}
	if comment != "" {
		in["comment"] = comment
	}
	if err := c.operate(ctx, "rollback", in, &out); err != nil {
		return store.RevisionInfo{}, err
	}
	return c.revision(ctx, out.Revision)
}

// Validate validates the candidate.
func (c *Client) Validate(ctx context.Context) (validate.Report, error) {
	var out struct {
		Warnings []struct{ Path, Rule, Message, Fix string } `json:"warnings"`
	}
	err := c.operate(ctx, "validate", struct{}{}, &out)
	var rep validate.Report
	for _, w := range out.Warnings {
		rep.Warnings = append(rep.Warnings, validate.Issue{Path: w.Path, Rule: w.Rule, Message: w.Message, Fix: w.Fix})
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == http.StatusBadRequest {
		for _, e := range ae.Errors {
			if e.Info.Rule != "" {
				rep.Errors = append(rep.Errors, validate.Issue{Path: e.Path, Rule: e.Info.Rule, Message: e.Message, Fix: e.Info.Fix})
			}
		}
		if len(rep.Errors) > 0 {
			return rep, nil
		}
	}
	return rep, err
}

// Diff lists the leaves that differ between two configurations.
func (c *Client) Diff(ctx context.Context, from, to string) (local.DiffResponse, error) {
	var d local.DiffResponse
	q := url.Values{"from": {from}, "to": {to}}
	return d, c.do(ctx, http.MethodGet, "/tandem/v1/diff?"+q.Encode(), "", nil, &d)
}

// History lists the newest revisions first.
func (c *Client) History(ctx context.Context, limit int) ([]store.RevisionInfo, error) {
	var h []store.RevisionInfo
	return h, c.do(ctx, http.MethodGet, "/tandem/v1/history?limit="+strconv.Itoa(limit), "", nil, &h)
}

// State returns the state under path (a core/model path) as RFC 7951
// JSON.
func (c *Client) State(ctx context.Context, path string) ([]byte, error) {
	t, err := target(path)
	if err != nil {
		return nil, err
	}
	p := "/restconf/data"
	if !t.Root() {
		p += "/" + t.URL()
	}
	var raw json.RawMessage
	err = c.do(ctx, http.MethodGet, p+"?content=nonconfig", "", nil, &raw)
	return raw, err
}

// HAStatus returns the HA pair's status.
func (c *Client) HAStatus(ctx context.Context) (ha.Status, error) {
	var st ha.Status
	return st, c.do(ctx, http.MethodGet, "/tandem/v1/ha", "", nil, &st)
}

// HAAdmin runs force-active, force-standby, reset or failover.
func (c *Client) HAAdmin(ctx context.Context, cmd string) error {
	switch cmd {
	case "force-active", "force-standby", "reset", "failover":
		return c.operate(ctx, cmd, nil, nil)
	}
	return fmt.Errorf("ha command %q: use force-active, force-standby, reset or failover", cmd)
}

// SyncSettings pushes the whole configuration to the standby now.
func (c *Client) SyncSettings(ctx context.Context) (configsync.Outcome, error) {
	var out service.SyncSettingsOutput
	err := c.operate(ctx, "sync-settings", nil, &out)
	return configsync.Outcome{Mode: out.Mode, PeerRevision: out.Revision}, err
}

// SyncTest checks the sync path and whether the members agree.
func (c *Client) SyncTest(ctx context.Context) (configsync.TestResult, error) {
	var res configsync.TestResult
	return res, c.operate(ctx, "sync-test", nil, &res)
}

// HADiff lists the leaves that differ between this unit and its peer.
func (c *Client) HADiff(ctx context.Context) (local.DiffResponse, error) {
	var out service.ConfigDiffOutput
	err := c.operate(ctx, "config-diff", nil, &out)
	return local.DiffResponse{From: "this unit", To: out.Peer, Changes: out.Changes}, err
}

// Join makes this unit a member of the pair whose active answers at
// req.Peer and returns the active's serial number.
func (c *Client) Join(ctx context.Context, req service.JoinRequest) (string, error) {
	var out map[string]string
	err := c.operate(ctx, "join", req, &out)
	return out["active"], err
}

// SyncFirmware sends the unit's firmware to a peer that runs another.
func (c *Client) SyncFirmware(ctx context.Context) (service.SyncFirmwareOutput, error) {
	var out service.SyncFirmwareOutput
	return out, c.operate(ctx, "sync-firmware", nil, &out)
}

// Upgrade installs the tandemd at image (a path on the unit) as the
// unit's firmware; the daemon restarts into it shortly after answering.
func (c *Client) Upgrade(ctx context.Context, image string) (service.UpgradeOutput, error) {
	var out service.UpgradeOutput
	return out, c.operate(ctx, "upgrade-firmware", map[string]string{"image": image}, &out)
}

// Events lists up to limit events after sequence number after.
func (c *Client) Events(ctx context.Context, after uint64, limit int) ([]telemetry.Event, error) {
	var ev []telemetry.Event
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(limit)}}
	return ev, c.do(ctx, http.MethodGet, "/tandem/v1/events?"+q.Encode(), "", nil, &ev)
}

// Follow calls fn for the last limit events and then for every new one
// (the server-sent event stream) until ctx ends or fn fails.
func (c *Client) Follow(ctx context.Context, limit int, fn func(telemetry.Event) error) error {
	recent, err := c.Events(ctx, 0, limit)
	if err != nil {
		return err
	}
	var last uint64
	for _, e := range recent {
		if err := fn(e); err != nil {
			return err
		}
		last = e.Seq
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/restconf/streams/events?start-after="+strconv.FormatUint(last, 10), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("tandemd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("event stream: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var n struct {
			Notification struct {
				Event *telemetry.Event `json:"tandem-system:event"`
			} `json:"ietf-restconf:notification"`
		}
		if err := json.Unmarshal([]byte(data), &n); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		if n.Notification.Event == nil {
			continue
		}
		if err := fn(*n.Notification.Event); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
