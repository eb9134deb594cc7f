package runtime

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// bpf assembles instructions (code, k) as libseccomp writes them.
func bpf(ins ...[2]uint32) []byte {
	var b []byte
	for _, in := range ins {
		b = binary.NativeEndian.AppendUint16(b, uint16(in[0]))
		b = append(b, 0, 0)
		b = binary.NativeEndian.AppendUint32(b, in[1])
	}
	return b
}

func TestCheckBPF(t *testing.T) {
	loadArch := [2]uint32{0x20, 4}
	allow := [2]uint32{0x06, 0x7fff0000}
	for _, c := range []struct {
		name string
		prog []byte
		ok   bool
	}{
		{"libseccomp's start", bpf(loadArch, allow), true},
		{"empty", nil, false},
		{"a torn instruction", bpf(loadArch, allow)[:12], false},
		{"not loading the architecture first", bpf(allow, loadArch), false},
		{"loading another field first", bpf([2]uint32{0x20, 0}, allow), false},
		{"over the kernel's limit", bytes.Repeat(bpf(loadArch), maxBPFInstructions+1), false},
	} {
		if err := checkBPF(c.prog); (err == nil) != c.ok {
			t.Errorf("%s: checkBPF = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func TestSeccompEntry(t *testing.T) {
	dir := t.TempDir()
	prog := bpf([2]uint32{0x20, 4}, [2]uint32{0x06, 0x7fff0000})
	lib := filepath.Join(dir, "libseccomp.so.2")
	if err := os.WriteFile(lib, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := fileIdentity(lib)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, lib string
	}{{"linked", lib + " " + id}, {"built in", "-"}} {
		entry := filepath.Join(dir, c.name)
		if err := writeSeccompEntry(entry, c.lib, prog); err != nil {
			t.Fatal(err)
		}
		got, err := readSeccompEntry(entry)
		if err != nil || !bytes.Equal(got, prog) {
			t.Fatalf("%s: read back %x, %v; want %x", c.name, got, err, prog)
		}
		raw, _ := os.ReadFile(entry)
		raw[len(raw)-1] ^= 1
		if _, err := parseSeccompEntry(raw); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s: a changed program gave %v", c.name, err)
		}
	}
	// A replaced libseccomp (a package upgrade) makes the entry stale.
	os.Remove(lib)
	if err := os.WriteFile(lib, []byte("v2, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSeccompEntry(filepath.Join(dir, "linked")); err == nil || !strings.Contains(err.Error(), "libseccomp changed") {
		t.Errorf("an entry compiled by another libseccomp gave %v", err)
	}
	if _, err := readSeccompEntry(filepath.Join(dir, "built in")); err != nil {
		t.Errorf("an entry of a crun with libseccomp built in: %v", err)
	}
}

// FuzzSeccompEntry: any file in the cache directory is either a program
// that passes checkBPF or an error, never a panic.
func FuzzSeccompEntry(f *testing.F) {
	prog := bpf([2]uint32{0x20, 4}, [2]uint32{0x06, 0x7fff0000})
	var b bytes.Buffer
	dir := f.TempDir()
	writeSeccompEntry(filepath.Join(dir, "e"), "-", prog)
	raw, _ := os.ReadFile(filepath.Join(dir, "e"))
	b.Write(raw)
	f.Add(b.Bytes())
	f.Add([]byte(seccompMagic + " - x\n"))
	f.Add([]byte(seccompMagic + " /nonexistent 1:2 x\n\x20\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		prog, err := parseSeccompEntry(raw)
		if err == nil && checkBPF(prog) != nil {
			t.Fatalf("accepted a program checkBPF refuses: %x", prog)
		}
	})
}

// The cache keeps its newest entries and drops copies left by a strata
// killed between the hook and the keep.
func TestTrimSeccompCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	write := func(name string, age time.Duration) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) string { return fmt.Sprintf("%064x", i) }
	for i := range 5 {
		write(key(i), time.Duration(5-i)*time.Minute) // key(0) the oldest
	}
	write("incoming-old", 2*time.Hour)
	write("incoming-new", time.Minute)
	write(".strata-tmp-1", 2*time.Hour)
	write("notes.txt", 48*time.Hour) // not the cache's: left alone

	trimSeccompCache(dir, 3, now)

	var got []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		got = append(got, de.Name())
	}
	want := []string{"incoming-new", "notes.txt", key(2), key(3), key(4)}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
}
