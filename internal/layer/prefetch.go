package layer

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Small files are read ahead of the tar writer by prefetchWorkers
// goroutines, at most prefetchAhead entries ahead: a layer of 100,000
// small files is mostly open/read/close calls, which then run on every
// core while the writer formats headers and the caller hashes.
const (
	prefetchMax     = 64 << 10
	prefetchAhead   = 512
	prefetchWorkers = 2
)

// prefetcher holds the contents read ahead, one slot per entry.
type prefetcher struct {
	slots []prefetchSlot
	quit  chan struct{}
	room  chan struct{} // one token per entry that may be read ahead
	wg    sync.WaitGroup
}

type prefetchSlot struct {
	want  bool
	ready chan struct{}
	data  []byte
	err   error
}

func prefetchable(e tarEntry) bool {
	if e.src == "" || e.info == nil {
		return false
	}
	st := &e.info.st
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size > 0 && st.Size <= prefetchMax && st.Nlink == 1
}

// startPrefetch starts reading the small files of ents, in order.
func startPrefetch(ents []tarEntry) *prefetcher {
	p := &prefetcher{slots: make([]prefetchSlot, len(ents)), quit: make(chan struct{}), room: make(chan struct{}, prefetchAhead)}
	todo := make(chan int, prefetchAhead)
	for i, e := range ents {
		if prefetchable(e) {
			p.slots[i] = prefetchSlot{want: true, ready: make(chan struct{})}
		}
	}
	p.wg.Add(1 + prefetchWorkers)
	go func() { // the feeder: entries in order, as room allows
		defer p.wg.Done()
		defer close(todo)
		for i := range ents {
			if !p.slots[i].want {
				continue
			}
			select {
			case p.room <- struct{}{}:
			case <-p.quit:
				return
			}
			todo <- i
		}
	}()
	for range prefetchWorkers {
		go func() {
			defer p.wg.Done()
			for i := range todo {
				s := &p.slots[i]
				select {
				case <-p.quit:
				default:
					s.data, s.err = readSmall(ents[i].src, ents[i].info.st.Size)
				}
				close(s.ready)
			}
		}()
	}
	return p
}

// take returns entry i's contents, ok false when it is not read ahead.
func (p *prefetcher) take(i int) (data []byte, err error, ok bool) {
	s := &p.slots[i]
	if !s.want {
		return nil, nil, false
	}
	<-s.ready
	<-p.room
	data, err = s.data, s.err
	s.data = nil
	return data, err, true
}

// stop ends the read-ahead and waits for its goroutines.
func (p *prefetcher) stop() {
	close(p.quit) // a feeder waiting for room sees it; todo never fills
	p.wg.Wait()
}

// readSmall reads the whole file p, of size bytes (no more: a file that
// grew is written as its header said).
func readSmall(p string, size int64) ([]byte, error) {
	buf := make([]byte, size)
	if err := readExact(p, size, buf, func([]byte) error { return nil }); err != nil {
		return nil, err
	}
	return buf, nil
}
