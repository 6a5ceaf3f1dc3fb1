package configsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Firmware sync (CFG-3, "synchronize firmware"): the active sends its own
// tandemd executable to the standby, which installs it and restarts into
// it. The session opens as a push does (hello, state); the active then
// sends a "firmware" header (version, size, SHA-256) and the image in
// "firmware-chunk" frames of at most chunkSize bytes, each numbered and
// authenticated over both nonces; the standby checks order, size and
// digest, hands the image to Options.OnFirmware and answers with a
// result.

// Frame kinds of a firmware sync.
const (
	kindFirmware = "firmware"
	kindChunk    = "firmware-chunk"
)

const (
	// chunkSize is the image bytes per frame (base64 in the JSON frame).
	chunkSize = 1 << 20
	// maxFirmware bounds an image.
	maxFirmware = 256 << 20
	// firmwareTimeout bounds a firmware session, installation included.
	firmwareTimeout = 2 * time.Minute
)

// firmwareHeader announces an image.
type firmwareHeader struct {
	Version string `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
}

// firmwareChunk is one piece of an image, in order from 0.
type firmwareChunk struct {
	Index int    `json:"index"`
	Data  []byte `json:"data"`
}

// PushFirmware sends this unit's tandemd to the standby, which installs
// it and restarts into it (CFG-3); only the active may.
func (s *Syncer) PushFirmware(ctx context.Context) error {
	if r := s.opts.Role(); r != "active" {
		return fmt.Errorf("synchronize firmware runs on the active unit; this unit is %s", r)
	}
	if s.opts.Executable == "" {
		return errors.New("synchronize firmware: this daemon does not know its executable")
	}
	ep, key, err := s.endpoints()
	if err != nil {
		return err
	}
	if err := pushFirmware(ctx, ep.peer.String(), s.opts.Serial, key, s.opts.Executable, s.opts.Firmware); err != nil {
		return err
	}
	s.event("firmware-sync", "warning", fmt.Sprintf("firmware %s sent to %s, which installs it and restarts", s.opts.Firmware, ep.peerSerial))
	return nil
}

// pushFirmware sends the executable exe, version version, to the peer at
// addr.
func pushFirmware(ctx context.Context, addr, serial string, key []byte, exe, version string) error {
	image, err := os.ReadFile(exe)
	if err != nil {
		return fmt.Errorf("synchronize firmware: %w", err)
	}
	sum := sha256.Sum256(image)
	c, nc, peer, err := dial(ctx, addr, serial, key)
	if err != nil {
		return fmt.Errorf("synchronize firmware: %w", err)
	}
	defer c.c.Close()
	_ = c.c.SetDeadline(time.Now().Add(firmwareTimeout))
	if !peer.Accepting {
		return fmt.Errorf("synchronize firmware: %w", errNotAccepting)
	}
	send := func(kind string, v any) error {
		sf, err := seal(key, kind, v, nc, peer.Nonce)
		if err != nil {
			return err
		}
		return c.enc.Encode(sf)
	}
	if err := send(kindFirmware, firmwareHeader{Version: version, Size: int64(len(image)), SHA256: hex.EncodeToString(sum[:])}); err != nil {
		return err
	}
	for i := 0; len(image) > 0; i++ {
		n := min(chunkSize, len(image))
		if err := send(kindChunk, firmwareChunk{Index: i, Data: image[:n]}); err != nil {
			return fmt.Errorf("synchronize firmware: sending: %w", err)
		}
		image = image[n:]
	}
	f, err := c.read()
	if err != nil {
		return err
	}
	var res result
	if err := open(key, f, "result", &res, nc, peer.Nonce); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("synchronize firmware: the peer refused firmware %s: %s", version, res.Error)
	}
	return nil
}

// firmwareReceiver is where a standby puts a synced image.
type firmwareReceiver struct {
	dir     string
	install func(ctx context.Context, image string) error
}

// firmwareReceiver returns this unit's receiver, nil when it takes no
// firmware.
func (s *Syncer) firmwareReceiver() *firmwareReceiver {
	if s.opts.OnFirmware == nil {
		return nil
	}
	return &firmwareReceiver{dir: s.opts.FirmwareDir, install: s.opts.OnFirmware}
}

// receive takes the image announced by the header frame f, installs it,
// and answers with a result. nc and ns are the session's nonces.
func (r *firmwareReceiver) receive(ctx context.Context, c *conn, key []byte, f frame, nc, ns string) error {
	if r == nil {
		return errors.New("config sync: this unit does not take firmware")
	}
	var h firmwareHeader
	if err := open(key, f, kindFirmware, &h, nc, ns); err != nil {
		return err
	}
	if h.Size <= 0 || h.Size > maxFirmware {
		return fmt.Errorf("config sync: firmware %s of %d bytes: the size must be 1 to %d", h.Version, h.Size, maxFirmware)
	}
	c.limit.N += 2*h.Size + maxMessage // base64 and framing
	_ = c.c.SetDeadline(time.Now().Add(firmwareTimeout))
	tmp, err := os.CreateTemp(r.dir, ".firmware-*")
	if err != nil {
		return fmt.Errorf("config sync: firmware: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := receiveImage(c, key, h, tmp, nc, ns); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return err
	}
	installErr := r.install(ctx, tmp.Name())
	res := result{OK: installErr == nil}
	if installErr != nil {
		res.Error = installErr.Error()
	}
	rf, err := seal(key, "result", res, nc, ns)
	if err != nil {
		return err
	}
	if err := c.enc.Encode(rf); err != nil {
		return err
	}
	return installErr
}

// receiveImage writes the chunks of the image h announced to w, in order,
// and checks its size and digest.
func receiveImage(c *conn, key []byte, h firmwareHeader, w io.Writer, nc, ns string) error {
	digest := sha256.New()
	var got int64
	for i := 0; got < h.Size; i++ {
		f, err := c.read()
		if err != nil {
			return err
		}
		var ch firmwareChunk
		if err := open(key, f, kindChunk, &ch, nc, ns); err != nil {
			return err
		}
		if ch.Index != i || len(ch.Data) == 0 || got+int64(len(ch.Data)) > h.Size {
			return fmt.Errorf("config sync: firmware chunk %d (%d bytes) out of order or beyond the announced %d bytes", ch.Index, len(ch.Data), h.Size)
		}
		if _, err := w.Write(ch.Data); err != nil {
			return fmt.Errorf("config sync: firmware: %w", err)
		}
		digest.Write(ch.Data)
		got += int64(len(ch.Data))
	}
	want, err := hex.DecodeString(h.SHA256)
	if err != nil || !bytes.Equal(digest.Sum(nil), want) {
		return errors.New("config sync: firmware: the image does not match its SHA-256")
	}
	return nil
}
