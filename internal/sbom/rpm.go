package sbom

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go, for rpmdb.sqlite
)

// rpmCataloger reads an rpm database in any of its three formats: the
// Berkeley DB hash "Packages" (RHEL/CentOS up to 8, Amazon Linux 2), the
// NDB "Packages.db" (SUSE) and "rpmdb.sqlite" (RHEL 9, Fedora 33+). Each
// row of each holds one package's rpm header.
//
// The containers and the header are read here, with every offset checked,
// rather than with go-rpmdb (which the tests use to check this reader):
// go-rpmdb v0.1.1 reads BDB and NDB pages in goroutines of its own, where
// a damaged database indexes out of range (a panic no caller can recover),
// loops for ever on a non-overflow page in an overflow chain, or allocates
// the 4 GiB a blob length field claims.
type rpmCataloger struct{}

// maxRPMDB caps an rpm database: a full RHEL install's is about 100 MiB.
const maxRPMDB = 1 << 30

func (rpmCataloger) read(name string, size int64, r io.Reader, buf *bytes.Buffer) ([]Package, *Distro, error) {
	if size > maxRPMDB {
		return nil, nil, fmt.Errorf("%d bytes, more than the %d read of an rpm database", size, maxRPMDB)
	}
	sp, err := spool(nil, size, r, buf)
	if err != nil {
		return nil, nil, err
	}
	defer sp.Close()
	var blobs [][]byte
	switch {
	case strings.HasSuffix(name, ".sqlite"):
		p, err := sp.path(buf)
		if err != nil {
			return nil, nil, err
		}
		blobs, err = sqliteBlobs(p)
		if err != nil {
			return nil, nil, err
		}
	default:
		blobs, err = rpmdbBlobs(io.NewSectionReader(sp, 0, size))
		if err != nil {
			return nil, nil, err
		}
	}
	pkgs, err := rpmPackages(blobs)
	return pkgs, nil, err
}

// rpmPackages reads the package of each header blob; a database whose
// headers cannot be read is an error, one bad header among good ones is
// skipped.
func rpmPackages(blobs [][]byte) ([]Package, error) {
	var pkgs []Package
	var firstErr error
	for _, b := range blobs {
		p, err := parseRPMHeader(b)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		if p.Name == "gpg-pubkey" {
			continue // an imported signing key, not a package
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return pkgs, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// sqliteBlobs reads the Packages table of an rpmdb.sqlite, read-only and
// as immutable (no journal, no lock files beside it).
func sqliteBlobs(path string) ([][]byte, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&immutable=1")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT blob FROM Packages")
	if err != nil {
		return nil, fmt.Errorf("not an rpm sqlite database: %w", err)
	}
	defer rows.Close()
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		blobs = append(blobs, b)
	}
	return blobs, rows.Err()
}

// rpmdbBlobs reads the header blobs of a Berkeley DB or NDB Packages file.
func rpmdbBlobs(r *io.SectionReader) ([][]byte, error) {
	head := make([]byte, 512)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case len(head) >= 16 && binary.LittleEndian.Uint32(head) == ndbMagic:
		return ndbBlobs(r)
	case len(head) >= 36 && (binary.LittleEndian.Uint32(head[12:]) == bdbHashMagic || binary.BigEndian.Uint32(head[12:]) == bdbHashMagic):
		return bdbBlobs(r, head)
	}
	return nil, errors.New("not an rpm database: neither Berkeley DB hash nor NDB")
}

// Berkeley DB hash databases (libdb's db_page.h): a metadata page, then
// hash pages whose items are key/value pairs. rpm stores each header as
// an off-page value (H_OFFPAGE) whose bytes fill a chain of overflow pages.
const (
	bdbHashMagic    = 0x00061561
	bdbPageHeader   = 26
	bdbHashUnsorted = 2
	bdbOverflow     = 7
	bdbHash         = 13
	bdbOffPage      = 3
	bdbOffPageSize  = 12
)

func bdbBlobs(r *io.SectionReader, meta []byte) ([][]byte, error) {
	var order binary.ByteOrder = binary.LittleEndian
	if order.Uint32(meta[12:]) != bdbHashMagic {
		order = binary.BigEndian
	}
	pageSize := int64(order.Uint32(meta[20:]))
	lastPage := int64(order.Uint32(meta[32:]))
	if pageSize < 512 || pageSize > 64<<10 || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("berkeley db: page size %d", pageSize)
	}
	if pages := r.Size() / pageSize; lastPage >= pages {
		return nil, fmt.Errorf("berkeley db: last page %d past the file's %d pages", lastPage, pages)
	}
	page := make([]byte, pageSize)
	readPage := func(no int64, into []byte) error {
		if no <= 0 || no > lastPage {
			return fmt.Errorf("berkeley db: page %d out of range", no)
		}
		_, err := r.ReadAt(into, no*pageSize)
		return err
	}
	var blobs [][]byte
	// Each overflow page belongs to one value: the values add up to less
	// than the file. Past that, pages are shared or looped, and a damaged
	// file would cost its size squared.
	budget := r.Size()
	over := make([]byte, pageSize)
	for no := int64(1); no <= lastPage; no++ {
		if err := readPage(no, page); err != nil {
			return nil, err
		}
		if typ := page[25]; typ != bdbHash && typ != bdbHashUnsorted {
			continue
		}
		entries := int64(order.Uint16(page[20:]))
		if bdbPageHeader+entries*2 > pageSize {
			return nil, fmt.Errorf("berkeley db: page %d: %d entries overflow the page", no, entries)
		}
		// Entries are key, value, key, value...: the values hold the headers.
		for e := int64(1); e < entries; e += 2 {
			off := int64(order.Uint16(page[bdbPageHeader+e*2:]))
			if off >= pageSize {
				return nil, fmt.Errorf("berkeley db: page %d: item offset %d out of the page", no, off)
			}
			if page[off] != bdbOffPage {
				continue // a value stored in the page: not a header
			}
			if off+bdbOffPageSize > pageSize {
				return nil, fmt.Errorf("berkeley db: page %d: item offset %d out of the page", no, off)
			}
			next := int64(order.Uint32(page[off+4:]))
			total := int64(order.Uint32(page[off+8:]))
			if total > r.Size() {
				return nil, fmt.Errorf("berkeley db: page %d: a %d byte value", no, total)
			}
			var blob []byte
			// Each overflow page is visited once at most: a loop in the
			// chain ends at the length the item declared.
			for next != 0 && int64(len(blob)) < total {
				if err := readPage(next, over); err != nil {
					return nil, err
				}
				if over[25] != bdbOverflow {
					return nil, fmt.Errorf("berkeley db: page %d is not an overflow page", next)
				}
				used := pageSize - bdbPageHeader
				nextNo := int64(order.Uint32(over[16:]))
				if nextNo == 0 {
					used = int64(order.Uint16(over[22:])) // hf_offset: the bytes in the last page
				}
				if used > pageSize-bdbPageHeader {
					return nil, fmt.Errorf("berkeley db: overflow page %d claims %d bytes", next, used)
				}
				if budget -= used; budget < 0 {
					return nil, errors.New("berkeley db: overflow pages shared between values")
				}
				blob = append(blob, over[bdbPageHeader:bdbPageHeader+used]...)
				next = nextNo
			}
			blobs = append(blobs, blob)
		}
	}
	return blobs, nil
}

// NDB (rpm's lib/backend/ndb/rpmpkg.c): a 32-byte header and slot pages
// of 16-byte slots, each pointing at a block (16-byte units) that starts
// with a blob header and holds one rpm header.
const (
	ndbMagic     = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbSlotPage  = 4096
)

func ndbBlobs(r *io.SectionReader) ([][]byte, error) {
	le := binary.LittleEndian
	hdr := make([]byte, 16)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, err
	}
	if le.Uint32(hdr[4:]) != 0 {
		return nil, fmt.Errorf("NDB: version %d", le.Uint32(hdr[4:]))
	}
	slotPages := int64(le.Uint32(hdr[12:]))
	if slotPages == 0 || slotPages*ndbSlotPage > r.Size() {
		return nil, fmt.Errorf("NDB: %d slot pages in a %d byte file", slotPages, r.Size())
	}
	slots := make([]byte, slotPages*ndbSlotPage)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return nil, err
	}
	var blobs [][]byte
	budget := r.Size() // blobs do not overlap: they add up to less than the file
	// The first two slots are the database header.
	for off := 32; off+16 <= len(slots); off += 16 {
		s := slots[off:]
		if le.Uint32(s) != ndbSlotMagic {
			return nil, fmt.Errorf("NDB: slot %d: bad magic", off/16)
		}
		pkg, blk := le.Uint32(s[4:]), int64(le.Uint32(s[8:]))
		if pkg == 0 {
			continue // a free slot
		}
		bh := make([]byte, 16)
		if _, err := r.ReadAt(bh, blk*16); err != nil {
			return nil, fmt.Errorf("NDB: package %d: %w", pkg, err)
		}
		if le.Uint32(bh) != ndbBlobMagic || le.Uint32(bh[4:]) != pkg {
			return nil, fmt.Errorf("NDB: package %d: no blob at block %d", pkg, blk)
		}
		n := int64(le.Uint32(bh[12:]))
		if blk*16+16+n > r.Size() {
			return nil, fmt.Errorf("NDB: package %d: a %d byte blob past the end of the file", pkg, n)
		}
		if budget -= n; budget < 0 {
			return nil, errors.New("NDB: blobs overlap")
		}
		blob := make([]byte, n)
		if _, err := r.ReadAt(blob, blk*16+16); err != nil {
			return nil, err
		}
		blobs = append(blobs, blob)
	}
	return blobs, nil
}

// rpm header tags and types (rpm's include/rpm/rpmtag.h).
const (
	rpmTagName      = 1000
	rpmTagVersion   = 1001
	rpmTagRelease   = 1002
	rpmTagEpoch     = 1003
	rpmTagArch      = 1022
	rpmTagSourceRPM = 1044
	rpmTypeInt32    = 4
	rpmTypeString   = 6
)

// parseRPMHeader reads the name, epoch, version, release, arch and source
// rpm of a header blob as an rpm database stores it: entry count and data
// size (big-endian), 16-byte index entries (tag, type, offset, count),
// then the data. The other tags (files, dependencies...) are not read.
func parseRPMHeader(b []byte) (Package, error) {
	if len(b) < 8 {
		return Package{}, errors.New("rpm header: too short")
	}
	be := binary.BigEndian
	il, dl := int64(be.Uint32(b)), int64(be.Uint32(b[4:]))
	start := 8 + il*16
	if il < 1 || il > 1<<20 || dl > 1<<28 || start+dl > int64(len(b)) {
		return Package{}, fmt.Errorf("rpm header: %d entries and %d data bytes in %d bytes", il, dl, len(b))
	}
	data := b[start : start+dl]
	var p Package
	epoch := ""
	for i := int64(0); i < il; i++ {
		e := b[8+i*16:]
		tag, typ, off := be.Uint32(e), be.Uint32(e[4:]), int64(be.Uint32(e[8:]))
		if off >= dl {
			continue
		}
		str := func() string {
			if typ != rpmTypeString {
				return ""
			}
			s := data[off:]
			if j := bytes.IndexByte(s, 0); j >= 0 {
				return string(s[:j])
			}
			return ""
		}
		switch tag {
		case rpmTagName:
			p.Name = str()
		case rpmTagVersion:
			p.Version = str()
		case rpmTagRelease:
			p.SourceVersion = str() // the release, until the end
		case rpmTagArch:
			p.Arch = str()
		case rpmTagSourceRPM:
			p.Source = str()
		case rpmTagEpoch:
			if typ == rpmTypeInt32 && off+4 <= dl {
				epoch = strconv.FormatUint(uint64(be.Uint32(data[off:])), 10)
			}
		}
	}
	if p.Name == "" || p.Version == "" {
		return Package{}, errors.New("rpm header: no name or version")
	}
	evr := p.Version
	if p.SourceVersion != "" {
		evr += "-" + p.SourceVersion
	}
	if epoch != "" {
		evr = epoch + ":" + evr
	}
	p.Version, p.Ecosystem = evr, RPM
	p.Source, p.SourceVersion = sourceRPM(p.Source, epoch)
	return p, nil
}

// sourceRPM splits "openssl-3.0.7-18.el9_2.src.rpm" into the source
// package name and its version (with the binary's epoch, which the source
// rpm's file name leaves out).
func sourceRPM(file, epoch string) (name, version string) {
	s := strings.TrimSuffix(strings.TrimSuffix(file, ".rpm"), ".src")
	s = strings.TrimSuffix(s, ".nosrc")
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", ""
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 {
		return "", ""
	}
	version = s[j+1:]
	if epoch != "" {
		version = epoch + ":" + version
	}
	return s[:j], version
}
