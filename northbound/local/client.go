package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tandem-ha/tandem/core/ha"
	"github.com/tandem-ha/tandem/core/ha/configsync"
	"github.com/tandem-ha/tandem/core/store"
	"github.com/tandem-ha/tandem/core/telemetry"
	"github.com/tandem-ha/tandem/core/validate"
	"github.com/tandem-ha/tandem/northbound/service"
)

// Client talks to a daemon's local API over its unix socket.
type Client struct {
	http *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{http: &http.Client{Transport: tr}}
}

// APIError is an error answer of the daemon.
type APIError struct {
	Code int
	ErrorBody
}

// Error renders the daemon's message and each validation issue on a line.
func (e *APIError) Error() string {
	msg := e.ErrorBody.Error
	for _, is := range e.Issues {
		msg += "\n  " + is.Error()
	}
	return msg
}

// Status returns the unit summary.
func (c *Client) Status(ctx context.Context) (service.Status, error) {
	var st service.Status
	return st, c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Config returns a configuration (running, candidate or a revision
// number) as RFC 7951 JSON, secrets removed.
func (c *Client) Config(ctx context.Context, datastore string) ([]byte, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, "/v1/config?datastore="+url.QueryEscape(datastore), nil, &raw)
	return raw, err
}

// Set sets the node at path of the candidate to value (RFC 7951 JSON).
func (c *Client) Set(ctx context.Context, path string, value json.RawMessage) error {
	return c.do(ctx, http.MethodPost, "/v1/config/set", SetRequest{Path: path, Value: value}, nil)
}

// Delete removes the node at path from the candidate.
func (c *Client) Delete(ctx context.Context, path string) error {
	return c.do(ctx, http.MethodPost, "/v1/config/delete", DeleteRequest{Path: path}, nil)
}

// Load replaces the candidate with a whole configuration in RFC 7951 JSON.
func (c *Client) Load(ctx context.Context, config []byte) error {
	return c.do(ctx, http.MethodPut, "/v1/config/candidate", json.RawMessage(config), nil)
}

// Commit commits the candidate.
func (c *Client) Commit(ctx context.Context, req CommitRequest) (store.RevisionInfo, error) {
	var info store.RevisionInfo
	return info, c.do(ctx, http.MethodPost, "/v1/config/commit", req, &info)
}

// Confirm confirms a pending confirmed commit.
func (c *Client) Confirm(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/config/confirm", struct{}{}, nil)
}

// Discard throws the candidate's changes away.
func (c *Client) Discard(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/config/discard", struct{}{}, nil)
}

// Rollback makes the configuration of n commits ago running again.
func (c *Client) Rollback(ctx context.Context, n int, comment string) (store.RevisionInfo, error) {
	var info store.RevisionInfo
	return info, c.do(ctx, http.MethodPost, "/v1/config/rollback", RollbackRequest{N: n, Comment: comment}, &info)
}

// Validate validates the candidate without committing it.
func (c *Client) Validate(ctx context.Context) (validate.Report, error) {
	var rep validate.Report
	err := c.do(ctx, http.MethodPost, "/v1/config/validate", struct{}{}, &rep)
	if ae, ok := err.(*APIError); ok && ae.Code == http.StatusBadRequest && len(rep.Errors) > 0 {
		return rep, nil
	}
	return rep, err
}

// Diff lists the leaves that differ between two configurations.
func (c *Client) Diff(ctx context.Context, from, to string) (DiffResponse, error) {
	var d DiffResponse
	q := url.Values{"from": {from}, "to": {to}}
	return d, c.do(ctx, http.MethodGet, "/v1/config/diff?"+q.Encode(), nil, &d)
}

// History lists the newest revisions first.
func (c *Client) History(ctx context.Context, limit int) ([]store.RevisionInfo, error) {
	var h []store.RevisionInfo
	return h, c.do(ctx, http.MethodGet, "/v1/config/history?limit="+strconv.Itoa(limit), nil, &h)
}

// State returns the state tree under path as RFC 7951 JSON.
func (c *Client) State(ctx context.Context, path string) ([]byte, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, "/v1/state?path="+url.QueryEscape(path), nil, &raw)
	return raw, err
}

// HAStatus returns the HA pair's status.
func (c *Client) HAStatus(ctx context.Context) (ha.Status, error) {
	var st ha.Status
	return st, c.do(ctx, http.MethodGet, "/v1/ha", nil, &st)
}

// HAAdmin runs an HA admin command: force-active, force-standby, reset or
// failover.
func (c *Client) HAAdmin(ctx context.Context, cmd string) error {
	return c.do(ctx, http.MethodPost, "/v1/ha/"+url.PathEscape(cmd), struct{}{}, nil)
}

// SyncSettings pushes the whole configuration to the standby now.
func (c *Client) SyncSettings(ctx context.Context) (configsync.Outcome, error) {
	var out configsync.Outcome
	return out, c.do(ctx, http.MethodPost, "/v1/ha/sync-settings", struct{}{}, &out)
}

// SyncFirmware sends the unit's firmware to a peer that runs another.
func (c *Client) SyncFirmware(ctx context.Context) (service.SyncFirmwareOutput, error) {
	var out service.SyncFirmwareOutput
	return out, c.do(ctx, http.MethodPost, "/v1/ha/sync-firmware", struct{}{}, &out)
}

// SyncTest checks the sync path to the peer and whether the members agree.
func (c *Client) SyncTest(ctx context.Context) (configsync.TestResult, error) {
	var res configsync.TestResult
	return res, c.do(ctx, http.MethodGet, "/v1/ha/sync-test", nil, &res)
}

// HADiff lists the leaves that differ between this unit and its peer.
func (c *Client) HADiff(ctx context.Context) (DiffResponse, error) {
	var d DiffResponse
	return d, c.do(ctx, http.MethodGet, "/v1/ha/diff", nil, &d)
}

// Join makes this unit a member of the pair whose active answers at
// req.Peer and returns the active's serial number.
func (c *Client) Join(ctx context.Context, req service.JoinRequest) (string, error) {
	var out map[string]string
	err := c.do(ctx, http.MethodPost, "/v1/ha/join", req, &out)
	return out["joined"], err
}

// Upgrade installs the tandemd at image (a path on the unit) as the
// unit's firmware; the daemon restarts into it shortly after answering.
func (c *Client) Upgrade(ctx context.Context, image string) (service.UpgradeOutput, error) {
	var out service.UpgradeOutput
	return out, c.do(ctx, http.MethodPost, "/v1/firmware/upgrade", UpgradeRequest{Image: image}, &out)
}

// Events lists up to limit events after sequence number after.
func (c *Client) Events(ctx context.Context, after uint64, limit int) ([]telemetry.Event, error) {
	var ev []telemetry.Event
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(limit)}}
	return ev, c.do(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, &ev)
}

// Follow calls fn for the last limit events and then for every new one
// until ctx ends or fn returns an error.
func (c *Client) Follow(ctx context.Context, limit int, fn func(telemetry.Event) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://tandem/v1/events?follow=true&limit="+strconv.Itoa(limit), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("tandemd: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e telemetry.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://tandem"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("tandemd: %w (is the daemon running?)", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		ae := &APIError{Code: resp.StatusCode}
		if json.Unmarshal(data, &ae.ErrorBody) != nil || ae.ErrorBody.Error == "" {
			ae.ErrorBody.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(data))
		}
		if out != nil && len(ae.Issues) == 0 {
			_ = json.Unmarshal(data, out)
		}
		return ae
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
