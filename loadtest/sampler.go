package loadtest

import (
	"sync"
	"time"
)

// MemorySampler reads a process's memory at intervals, for the largest RSS it holds
// meanwhile.
type MemorySampler struct {
	proc   string
	pid    int
	most   int64
	done   chan struct{}
	finish sync.WaitGroup
}

// SampleMemory reads the memory of process pid (see ReadMemory) now, then every
// every until Stop.
func SampleMemory(proc string, pid int, every time.Duration) *MemorySampler {
	s := &MemorySampler{proc: proc, pid: pid, done: make(chan struct{})}
	s.read()
	s.finish.Go(func() {
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-ticker.C:
				s.read()
			}
		}
	})
	return s
}

// read reads the process's memory, for its largest RSS; a failed read is passed
// over (Stop reports the last one's error).
func (s *MemorySampler) read() {
	if m, err := ReadMemory(s.proc, s.pid); err == nil {
		s.most = max(s.most, m.RSS)
	}
}

// Stop ends the sampling and returns the process's memory now, and the largest RSS
// read, now's included. It returns the error of reading the memory now.
func (s *MemorySampler) Stop() (now Memory, mostRSS int64, err error) {
	close(s.done)
	s.finish.Wait()
	m, err := ReadMemory(s.proc, s.pid)
	if err != nil {
		return Memory{}, 0, err
	}
	return m, max(s.most, m.RSS), nil
}
