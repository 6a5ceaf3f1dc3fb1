package xfrm

import (
	"fmt"
	"net/netip"
)

// IPsec protocols an SA can have.
const (
	ProtoESP  = 50
	ProtoAH   = 51
	ProtoComp = 108
)

// Policy directions and SA directions.
const (
	DirIn  = 0
	DirOut = 1
	DirFwd = 2

	// SADirIn and SADirOut are the values of SA.Dir (XFRMA_SA_DIR);
	// 0 means not set.
	SADirIn  = 1
	SADirOut = 2
)

// Selector is struct xfrm_selector: the traffic a policy or SA applies
// to. Family is 0 (an SA's selector may leave it unset), AF_INET or
// AF_INET6; the addresses are of that family, or of the SA's for family
// 0.
type Selector struct {
	Family           uint16
	Dst, Src         netip.Addr
	DPort, DPortMask uint16
	SPort, SPortMask uint16
	PrefixD, PrefixS uint8
	Proto            uint8
	Ifindex          int32
	User             uint32
}

// Lifetime is struct xfrm_lifetime_cfg: soft and hard limits.
type Lifetime struct {
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
	SoftAdd, HardAdd         uint64 // seconds after AddTime
	SoftUse, HardUse         uint64 // seconds after first use
}

// Current is struct xfrm_lifetime_cur: what the SA has carried, and when
// it was added and first used (Unix seconds).
type Current struct {
	Bytes, Packets   uint64
	AddTime, UseTime uint64
}

// Algo is an algorithm and its key. Extra is the truncation length in
// bits of an authentication algorithm (0: the legacy attribute without
// one) or the ICV length of an AEAD algorithm.
type Algo struct {
	Name    string
	KeyBits uint32
	Key     []byte
	Extra   uint32
}

// String never shows the key.
func (a *Algo) String() string { return fmt.Sprintf("%s (%d-bit key)", a.Name, a.KeyBits) }

// Encap is struct xfrm_encap_tmpl: UDP encapsulation (NAT traversal).
type Encap struct {
	Type         uint16
	SPort, DPort uint16
	OA           netip.Addr
}

// Replay is struct xfrm_replay_state: the legacy anti-replay state.
type Replay struct {
	OSeq, Seq, Bitmap uint32
}

// ReplayESN is struct xfrm_replay_state_esn: the extended (64-bit)
// anti-replay state.
type ReplayESN struct {
	OSeq, Seq, OSeqHi, SeqHi uint32
	Window                   uint32
	Bitmap                   []uint32
}

// SA is one security association with everything needed to recreate it.
type SA struct {
	// Identity: the kernel finds an SA by these.
	Dst            netip.Addr
	SPI            uint32
	Proto          uint8
	Mark, MarkMask uint32

	Src          netip.Addr
	Mode         uint8
	ReqID        uint32
	ReplayWindow uint8
	Flags        uint8
	ExtraFlags   uint32
	Selector     Selector
	Lifetime     Lifetime
	Current      Current

	Crypt, Auth, AEAD, Comp *Algo
	Encap                   *Encap
	TFCPad                  uint32
	OutputMark, OutputMask  uint32
	IfID                    uint32
	Dir                     uint8
	// Exactly one of Replay and ESN is set for an SA read from a kernel.
	Replay        *Replay
	ESN           *ReplayESN
	NATKeepalive  uint32
	MappingMaxAge uint32
}

// String names the SA without its keys.
func (s *SA) String() string {
	return fmt.Sprintf("SA proto %d spi %#x %s -> %s mark %#x/%#x", s.Proto, s.SPI, s.Src, s.Dst, s.Mark, s.MarkMask)
}

// Template is struct xfrm_user_tmpl: one transformation a policy
// requires.
type Template struct {
	Family                 uint16
	Dst, Src               netip.Addr
	SPI                    uint32
	Proto                  uint8
	ReqID                  uint32
	Mode, Share, Optional  uint8
	AAlgos, EAlgos, CAlgos uint32
}

// Policy is one security policy.
type Policy struct {
	// Identity: the kernel finds a policy by these.
	Selector       Selector
	Dir            uint8
	Type           uint8 // XFRM_POLICY_TYPE_MAIN (0) or _SUB (1)
	Mark, MarkMask uint32
	IfID           uint32

	Priority  uint32
	Action    uint8
	Flags     uint8
	Share     uint8
	Lifetime  Lifetime
	Templates []Template
}

// String names the policy.
func (p *Policy) String() string {
	return fmt.Sprintf("policy dir %d %s/%d -> %s/%d proto %d mark %#x/%#x if_id %d", p.Dir,
		p.Selector.Src, p.Selector.PrefixS, p.Selector.Dst, p.Selector.PrefixD, p.Selector.Proto, p.Mark, p.MarkMask, p.IfID)
}
