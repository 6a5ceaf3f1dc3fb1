package wire

import (
	"encoding/binary"
	"fmt"
	"time"
)

// validSerial reports whether s is a serial number as the YANG type allows: [A-Za-z0-9-]+, at
// most MaxSerialLen bytes.
func validSerial(s string) bool {
	if len(s) == 0 || len(s) > MaxSerialLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// printable reports whether s is printable ASCII (space allowed only if spaceOK), so that
// nothing a peer sends can inject control characters into logs and status output.
func printable(s string, spaceOK bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > '~' || c < ' ' || (c == ' ' && !spaceOK) {
			return false
		}
	}
	return true
}

// checkPayload validates p; err wraps base (ErrInvalid when sealing, ErrMalformed when
// decoding) or ErrTooLarge for a bound exceeded.
func checkPayload(p *Payload, base error) error {
	switch {
	case !p.Role.valid():
		return fmt.Errorf("%w: unknown role %d", base, p.Role)
	case !p.Designation.valid():
		return fmt.Errorf("%w: unknown designation %d", base, p.Designation)
	case p.Quality > MaxQuality:
		return fmt.Errorf("%w: quality %d above %d", base, p.Quality, MaxQuality)
	case p.Priority != PriorityNone && p.Priority != PriorityPreferred:
		return fmt.Errorf("%w: priority %d, want %d or %d", base, p.Priority, PriorityNone, PriorityPreferred)
	case !p.Forced.valid():
		return fmt.Errorf("%w: unknown forced status %d", base, p.Forced)
	case len(p.Model) > MaxStringLen:
		return fmt.Errorf("%w: model is %d bytes, at most %d", ErrTooLarge, len(p.Model), MaxStringLen)
	case !printable(p.Model, true):
		return fmt.Errorf("%w: model %q is not printable ASCII", base, p.Model)
	case len(p.Firmware) > MaxStringLen:
		return fmt.Errorf("%w: firmware is %d bytes, at most %d", ErrTooLarge, len(p.Firmware), MaxStringLen)
	case !printable(p.Firmware, true):
		return fmt.Errorf("%w: firmware %q is not printable ASCII", base, p.Firmware)
	case len(p.Ports) > MaxPorts:
		return fmt.Errorf("%w: %d ports, at most %d", ErrTooLarge, len(p.Ports), MaxPorts)
	case !p.Echo.Present && p.Echo != (Echo{}):
		return fmt.Errorf("%w: echo fields set without an echo", base)
	case p.Echo.Delay < 0:
		return fmt.Errorf("%w: negative echo delay %v", base, p.Echo.Delay)
	}
	for i, pt := range p.Ports {
		switch {
		case len(pt.Name) > MaxPortNameLen:
			return fmt.Errorf("%w: port %d name is %d bytes, at most %d", ErrTooLarge, i, len(pt.Name), MaxPortNameLen)
		case pt.Name == "" || !printable(pt.Name, false):
			return fmt.Errorf("%w: port %d name %q is empty or not printable ASCII", base, i, pt.Name)
		case pt.ProbeOK && !pt.Probed:
			return fmt.Errorf("%w: port %s: probe ok without a probe", base, pt.Name)
		}
		for _, q := range p.Ports[:i] {
			if q.Name == pt.Name {
				return fmt.Errorf("%w: port %s listed twice", base, pt.Name)
			}
		}
	}
	return nil
}

// payloadLen returns the encoded length of a checked payload.
func payloadLen(p *Payload) int {
	n := fixedPayloadLen + 1 + len(p.Model) + 1 + len(p.Firmware) + 1
	for _, pt := range p.Ports {
		n += 1 + len(pt.Name) + 1
	}
	return n
}

// appendPayload appends the encoding of a checked payload to dst.
func appendPayload(dst []byte, p *Payload) []byte {
	var flags byte
	if p.BulkSyncComplete {
		flags |= pflagBulkSyncComplete
	}
	if p.Echo.Present {
		flags |= pflagEcho
	}
	if p.Yield {
		flags |= pflagYield
	}
	dst = append(dst, byte(p.Role), byte(p.Designation), p.Quality, p.Priority, byte(p.Forced), flags)
	dst = binary.BigEndian.AppendUint64(dst, p.ConfigRevision)
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.Echo.Timestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.Echo.Delay))
	dst = binary.BigEndian.AppendUint32(dst, p.Echo.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, p.Echo.Seq)
	dst = append(dst, byte(len(p.Model)))
	dst = append(dst, p.Model...)
	dst = append(dst, byte(len(p.Firmware)))
	dst = append(dst, p.Firmware...)
	dst = append(dst, byte(len(p.Ports)))
	for _, pt := range p.Ports {
		var f byte
		if pt.LinkUp {
			f |= portLinkUp
		}
		if pt.Probed {
			f |= portProbed
		}
		if pt.ProbeOK {
			f |= portProbeOK
		}
		dst = append(dst, byte(len(pt.Name)))
		dst = append(dst, pt.Name...)
		dst = append(dst, f)
	}
	return dst
}

// reader walks a payload; the first short read sticks as ErrMalformed.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("%w: payload ends %d bytes early", ErrMalformed, n-len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

// str reads a length-prefixed string of at most max bytes.
func (r *reader) str(what string, max int) string {
	n := int(r.u8())
	if r.err == nil && n > max {
		r.err = fmt.Errorf("%w: %s is %d bytes, at most %d", ErrTooLarge, what, n, max)
	}
	return string(r.bytes(n))
}

// decodePayload parses an authenticated payload. Bytes after the version 1 fields are an
// extension area reserved for compatible additions and are ignored, as are reserved flag bits.
func decodePayload(b []byte) (Payload, error) {
	if len(b) < fixedPayloadLen {
		return Payload{}, fmt.Errorf("%w: payload is %d bytes, at least %d", ErrMalformed, len(b), fixedPayloadLen)
	}
	var p Payload
	p.Role = Role(b[poRole])
	p.Designation = Designation(b[poDesignation])
	p.Quality = b[poQuality]
	p.Priority = b[poPriority]
	p.Forced = Forced(b[poForced])
	flags := b[poFlags]
	p.BulkSyncComplete = flags&pflagBulkSyncComplete != 0
	p.Echo.Present = flags&pflagEcho != 0
	p.Yield = flags&pflagYield != 0
	p.ConfigRevision = binary.BigEndian.Uint64(b[poRevision:])
	p.Echo.Timestamp = int64(binary.BigEndian.Uint64(b[poEchoTime:]))
	p.Echo.Delay = time.Duration(binary.BigEndian.Uint64(b[poEchoDelay:]))
	p.Echo.Epoch = binary.BigEndian.Uint32(b[poEchoEpoch:])
	p.Echo.Seq = binary.BigEndian.Uint64(b[poEchoSeq:])

	r := reader{b: b[poStrings:]}
	p.Model = r.str("model", MaxStringLen)
	p.Firmware = r.str("firmware", MaxStringLen)
	n := int(r.u8())
	if r.err == nil && n > MaxPorts {
		return Payload{}, fmt.Errorf("%w: %d ports, at most %d", ErrTooLarge, n, MaxPorts)
	}
	if n > 0 && r.err == nil {
		p.Ports = make([]PortState, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		name := r.str("port name", MaxPortNameLen)
		f := r.u8()
		p.Ports = append(p.Ports, PortState{
			Name:    name,
			LinkUp:  f&portLinkUp != 0,
			Probed:  f&portProbed != 0,
			ProbeOK: f&portProbeOK != 0,
		})
	}
	if r.err != nil {
		return Payload{}, r.err
	}
	if err := checkPayload(&p, ErrMalformed); err != nil {
		return Payload{}, err
	}
	return p, nil
}
