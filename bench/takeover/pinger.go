package main

import (
	"encoding/binary"
	"io"
	"sync"
	"time"
)

// pinger is what the UDP stream and a TCP session share: a sender of one
// request (sequence number and send time on the clock that started at
// start) every streamEvery, a record of the echoes that came back, and
// the stop of both goroutines. Its mu also guards the owner's own fields.
type pinger struct {
	conn  io.Closer
	start time.Time
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu     sync.Mutex
	echoes []echo
}

// init readies p for conn on the clock that started at start.
func (p *pinger) init(conn io.Closer, start time.Time) {
	p.conn, p.start, p.stop, p.echoes = conn, start, make(chan struct{}), make([]echo, 0, 16384)
}

// run starts the sender, which hands every request to write until the
// pinger closes or write returns false, and the receiver.
func (p *pinger) run(write func(req []byte, seq uint64) bool, receive func()) {
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(streamEvery)
		defer t.Stop()
		buf := make([]byte, requestSize)
		for seq := uint64(1); ; seq++ {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			binary.BigEndian.PutUint64(buf, seq)
			binary.BigEndian.PutUint64(buf[8:], uint64(time.Since(p.start)))
			if !write(buf, seq) {
				return
			}
		}
	}()
	go func() {
		defer p.wg.Done()
		receive()
	}()
}

// record keeps the echo of the request in buf, received at recv.
func (p *pinger) record(buf []byte, recv time.Duration) {
	e := echo{
		seq:  binary.BigEndian.Uint64(buf),
		sent: time.Duration(binary.BigEndian.Uint64(buf[8:])),
		recv: recv,
	}
	p.mu.Lock()
	p.echoes = append(p.echoes, e)
	p.mu.Unlock()
}

// echoesLocked returns a copy of the echoes received so far; p.mu is held.
func (p *pinger) echoesLocked() []echo { return append([]echo(nil), p.echoes...) }

// close stops both goroutines and closes the connection, once.
func (p *pinger) close() {
	p.once.Do(func() {
		close(p.stop)
		_ = p.conn.Close()
		p.wg.Wait()
	})
}
