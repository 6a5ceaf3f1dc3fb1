package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tandem-ha/tandem/core/model"
	"github.com/tandem-ha/tandem/gen/tandem"
)

// recordVersion is the format version of a stored revision record.
const recordVersion = 1

// record is one revision as stored in the revisions bucket.
type record struct {
	Version int             `json:"v"`
	Info    RevisionInfo    `json:"info"`
	Config  json.RawMessage `json:"config"`
}

// encodeRecord renders info and a configuration's canonical JSON as a
// revision record. PendingConfirm is never stored.
func encodeRecord(info RevisionInfo, config []byte) ([]byte, error) {
	info.PendingConfirm = false
	b, err := json.Marshal(record{Version: recordVersion, Info: info, Config: config})
	if err != nil {
		return nil, fmt.Errorf("encode revision %d: %w", info.ID, err)
	}
	return b, nil
}

// decodeRecordInfo parses the metadata of a revision record and returns
// its raw configuration JSON without decoding it.
func decodeRecordInfo(b []byte) (RevisionInfo, json.RawMessage, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return RevisionInfo{}, nil, fmt.Errorf("decode revision record: %w", err)
	}
	if r.Version != recordVersion {
		return RevisionInfo{}, nil, fmt.Errorf("decode revision record: format version %d is not supported (want %d)", r.Version, recordVersion)
	}
	if r.Info.ID == 0 {
		return RevisionInfo{}, nil, errors.New("decode revision record: revision id 0 is invalid")
	}
	if len(r.Config) == 0 || r.Config[0] != '{' {
		return RevisionInfo{}, nil, fmt.Errorf("decode revision record %d: configuration is not a JSON object", r.Info.ID)
	}
	r.Info.PendingConfirm = false
	return r.Info, r.Config, nil
}

// decodeRecord parses a revision record completely: its metadata and its
// configuration. The stored JSON was canonical when written, so it is
// kept as the canonical bytes.
func decodeRecord(b []byte) (RevisionInfo, config, error) {
	info, raw, err := decodeRecordInfo(b)
	if err != nil {
		return RevisionInfo{}, config{}, err
	}
	c, err := decodeCanonical(raw)
	if err != nil {
		return RevisionInfo{}, config{}, fmt.Errorf("revision %d: %w", info.ID, err)
	}
	return info, c, nil
}

// decodeCanonical decodes stored canonical JSON.
func decodeCanonical(raw []byte) (config, error) {
	d, err := model.Decode(raw)
	if err != nil {
		return config{}, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return config{}, err
	}
	return config{dev: d, json: buf.Bytes()}, nil
}

// config is a configuration in canonical form: the decoded device (never
// modified once built) and its compact canonical JSON.
type config struct {
	dev  *tandem.Device
	json []byte
}

// canonical builds the canonical form of d: normalized (list keys
// mirrored), encoded with model.Encode (config only) and decoded again,
// so that the in-memory device is exactly what a reload from disk gives.
// Encoding the result again reproduces the same bytes.
func canonical(d *tandem.Device) (config, error) {
	dev, enc, err := model.Canonical(d)
	if err != nil {
		return config{}, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, enc); err != nil {
		return config{}, fmt.Errorf("compact configuration: %w", err)
	}
	return config{dev: dev, json: buf.Bytes()}, nil
}

// copyDevice returns a deep copy of c's device for a caller to own.
func (c config) copyDevice() *tandem.Device {
	d, err := model.Clone(c.dev)
	if err == nil {
		return d
	}
	// The canonical device always copies; fall back to its JSON anyway.
	d, err = model.Decode(c.json)
	if err != nil {
		panic("store: canonical configuration does not decode: " + err.Error())
	}
	return d
}
