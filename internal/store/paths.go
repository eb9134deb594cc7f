package store

import "path/filepath"

// Location is a path under the store root. This list is every file and
// directory strata keeps there; a package that needs a place under the root
// asks the store for one of these instead of joining its own, so the
// layout is written down once (docs/ARCHITECTURE.md, "The store").
type Location string

const (
	Blobs         Location = "blobs"              // content store: blobs/sha256/<hex>, blobs/ingest/
	MetaDB        Location = "meta.db"            // bbolt metadata
	LockFile      Location = "lock"               // the store lock (flock)
	Snapshots     Location = "snapshots"          // snapshots/DRIVER/: unpacked layers, container layers
	Containers    Location = "containers"         // containers/ID/: a container's runtime files
	RuntimeState  Location = "runtime"            // runc/crun --root: the runtime's own state
	BuildTmp      Location = "build/tmp"          // RUN steps' bundles and mounts while a build runs
	BuildCache    Location = "build/mounts/cache" // RUN --mount=type=cache directories
	BuildContexts Location = "build/contexts"     // context checksum files, one per context path
	URLCache      Location = "build/url-cache"    // ADD <url>: the last download with its ETag
	ManifestLists Location = "registry/manifests" // `manifest create` lists before they are pushed
	PushedGzip    Location = "registry/gzip"      // uncompressed layer diffID -> the gzip blob push sent
	Events        Location = "events"             // events/log.json: what `strata events` reads (internal/events)
	SeccompCache  Location = "cache/seccomp"      // seccomp programs crun compiled, by profile (internal/runtime)
)

// Locations are all the Locations, in the order df lists them.
var Locations = []Location{Blobs, Snapshots, MetaDB, LockFile, Containers, RuntimeState, BuildTmp,
	BuildCache, BuildContexts, URLCache, ManifestLists, PushedGzip, Events, SeccompCache}

// Path returns the absolute path of l in the store. With RunDir set (a
// rootless strata), RuntimeState is there instead: the runtime's state
// must not outlive a boot, and $XDG_RUNTIME_DIR is a tmpfs made for it.
func (s *Store) Path(l Location) string {
	if l == RuntimeState && s.RunDir != "" {
		return filepath.Join(s.RunDir, string(l))
	}
	return filepath.Join(s.Root, string(l))
}
