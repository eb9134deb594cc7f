package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/errdefs"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/metadata"
	"github.com/strata-dev/strata/internal/store"
)

// imageInspect has the shape of `docker image inspect`, plus History.
type imageInspect struct {
	ID            string                `json:"Id"`
	RepoTags      []string              `json:"RepoTags"`
	RepoDigests   []string              `json:"RepoDigests"`
	Parent        string                `json:"Parent"`
	Comment       string                `json:"Comment"`
	Created       string                `json:"Created"`
	Container     string                `json:"Container"`
	DockerVersion string                `json:"DockerVersion"`
	Author        string                `json:"Author"`
	Config        inspectConfig         `json:"Config"`
	Architecture  string                `json:"Architecture"`
	Variant       string                `json:"Variant,omitempty"`
	Os            string                `json:"Os"`
	Size          int64                 `json:"Size"`
	VirtualSize   int64                 `json:"VirtualSize"`
	RootFS        inspectRootFS         `json:"RootFS"`
	Metadata      inspectMetadata       `json:"Metadata"`
	History       []ocispec.History     `json:"History"`
	Manifest      inspectManifestSource `json:"Manifest"`
}

// inspectConfig is docker's container config as inspect prints it: every
// field present, nulls where the image sets nothing.
type inspectConfig struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *image.HealthConfig `json:"Healthcheck,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

type inspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

type inspectMetadata struct {
	LastTagTime string `json:"LastTagTime"`
}

// inspectManifestSource says which manifest the store keeps for the image.
type inspectManifestSource struct {
	Digest    digest.Digest `json:"Digest"`
	MediaType string        `json:"MediaType"`
}

// newInspectCmd is `strata inspect`: containers and images, as docker's
// (--type says which; a name of both is the container).
func newInspectCmd(a *app) *cobra.Command { return newInspectCmdOf(a, "") }

// newInspectCmdOf is inspect of one kind of object ("image" for `image
// inspect`, "container" for `container inspect`) or of either ("").
func newInspectCmdOf(a *app, kind string) *cobra.Command {
	var format, platform string
	use, short := "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers or images"
	switch kind {
	case "image":
		use, short = "inspect [OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images"
	case "container":
		use, short = "inspect [OPTIONS] CONTAINER [CONTAINER...]", "Display detailed information on one or more containers"
	}
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch kind {
			case "", "container", "image":
			default:
				return fmt.Errorf(`unknown type: %q: must be one of "container", "image"`, kind)
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			names, err := st.Names()
			if err != nil {
				return err
			}
			var out []any
			var firstErr error
			want, err := optionalPlatform(platform)
			if err != nil {
				return err
			}
			for _, ref := range args {
				if kind != "image" {
					ci, ok, err := a.inspectContainerRef(st, ref)
					if err != nil {
						return err
					}
					if ok {
						out = append(out, ci)
						continue
					}
					if kind == "container" {
						if firstErr == nil {
							firstErr = fmt.Errorf("%w: %s", container.ErrNoSuchContainer, ref)
						}
						continue
					}
				}
				if want == nil {
					if ix, err := st.Index(ref); err == nil {
						ii, err := inspectIndex(st, ix, names[ix.Digest])
						if err != nil {
							return err
						}
						out = append(out, ii)
						continue
					}
				}
				im, err := resolveFor(st, ref, want)
				if err != nil {
					if kind == "" && errors.Is(err, store.ErrNoSuchImage) {
						//lint:ignore ST1005 docker's words, which scripts match
						err = errdefs.NotFound(fmt.Errorf("No such object: %s", ref))
					}
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				ii, err := inspectImage(st, im, names[im.ID])
				if err != nil {
					return err
				}
				out = append(out, ii)
			}
			if err := a.printInspect(format, out); err != nil {
				return err
			}
			return firstErr
		},
	}
	if kind == "" {
		c.Flags().StringVar(&kind, "type", "", "Return JSON for the specified type: container or image")
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Format output using a Go template")
	c.Flags().StringVar(&platform, "platform", "", "Inspect this platform's image of a multi-platform image (OS/ARCH[/VARIANT])")
	return c
}

// optionalPlatform reads a --platform value that may be absent (nil).
func optionalPlatform(s string) (*image.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := image.ParsePlatform(s)
	return &p, err
}

// resolveFor is the image ref names for platform p (nil: the image or this
// machine's entry of a multi-platform image, as Resolve gives it).
func resolveFor(st *store.Store, ref string, p *image.Platform) (*metadata.Image, error) {
	if p == nil {
		return st.Resolve(ref)
	}
	return st.ResolvePlatform(ref, *p)
}

// indexInspect is what inspect shows of a multi-platform image: the index
// and, per platform, its manifest and the image ID (which `inspect
// --platform` shows in full).
type indexInspect struct {
	ID          string              `json:"Id"`
	RepoTags    []string            `json:"RepoTags"`
	RepoDigests []string            `json:"RepoDigests"`
	MediaType   string              `json:"MediaType"`
	Size        int64               `json:"Size"`
	Manifests   []indexInspectEntry `json:"Manifests"`
}

type indexInspectEntry struct {
	Platform  string `json:"Platform"`
	Digest    string `json:"Digest"`
	ImageID   string `json:"ImageId"`
	ImageSize int64  `json:"ImageSize"`
}

func inspectIndex(st *store.Store, ix *metadata.Index, names []string) (*indexInspect, error) {
	ii := &indexInspect{ID: ix.Digest.String(), RepoTags: []string{}, RepoDigests: []string{}, MediaType: ix.MediaType, Size: ix.Size}
	for _, n := range names {
		ii.RepoTags = append(ii.RepoTags, familiarName(n))
	}
	for _, rd := range ix.RepoDigests {
		ii.RepoDigests = append(ii.RepoDigests, familiarName(rd))
	}
	for _, e := range ix.Entries {
		im, err := st.Image(e.Image)
		if err != nil {
			return nil, err
		}
		ii.Manifests = append(ii.Manifests, indexInspectEntry{Platform: store.EntryPlatform(e).String(), Digest: e.Manifest.String(), ImageID: im.ID.String(), ImageSize: im.Size()})
	}
	return ii, nil
}

// printInspect prints a JSON array (docker's indented style) or, with a
// template, one line per object.
func (a *app) printInspect(format string, objs []any) error {
	if format == "" {
		if objs == nil {
			objs = []any{}
		}
		b, err := json.MarshalIndent(objs, "", "    ")
		if err != nil {
			return err
		}
		a.println(string(b))
		return nil
	}
	tmpl, err := parseTemplate(format + "\n")
	if err != nil {
		return err
	}
	// A key the object lacks is an error, as in docker (it falls back to
	// the raw JSON with missingkey=error), not "<no value>".
	tmpl.Option("missingkey=error")
	for _, o := range objs {
		// Templates see the JSON field names (.Id, .Config.Env), as in docker.
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		// Numbers stay as written (.Size is 2129920, not 2.12992e+06).
		var generic map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		withOmitted(generic, reflect.TypeOf(o))
		var line bytes.Buffer
		if err := tmpl.Execute(&line, generic); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
		if _, err := a.stdout.Write(line.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func inspectImage(st *store.Store, im *metadata.Image, names []string) (*imageInspect, error) {
	cfg, _, err := st.Config(im)
	if err != nil {
		return nil, err
	}
	ii := &imageInspect{
		ID:            im.ID.String(),
		RepoTags:      []string{},
		RepoDigests:   []string{},
		Comment:       cfg.Comment,
		Container:     cfg.Container,
		DockerVersion: cfg.DockerVersion,
		Author:        cfg.Author,
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		Size:          im.Size(),
		VirtualSize:   im.Size(),
		RootFS:        inspectRootFS{Type: "layers", Layers: []string{}},
		History:       cfg.History,
		Manifest:      inspectManifestSource{Digest: im.Manifest.Digest, MediaType: im.Manifest.MediaType},
	}
	if im.Parent != "" {
		ii.Parent = im.Parent.String()
	}
	for _, n := range names {
		ii.RepoTags = append(ii.RepoTags, familiarName(n))
	}
	for _, rd := range im.RepoDigests {
		ii.RepoDigests = append(ii.RepoDigests, familiarName(rd))
	}
	if cfg.Created != nil {
		ii.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	if !im.LastTagTime.IsZero() {
		ii.Metadata.LastTagTime = im.LastTagTime.Format(time.RFC3339Nano)
	} else {
		ii.Metadata.LastTagTime = "0001-01-01T00:00:00Z"
	}
	for _, d := range cfg.RootFS.DiffIDs {
		ii.RootFS.Layers = append(ii.RootFS.Layers, d.String())
	}
	c := cfg.Config
	ii.Config = inspectConfig{
		User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Cmd: c.Cmd, Healthcheck: c.Healthcheck,
		//lint:ignore SA1019 docker inspect shows the field
		ArgsEscaped: c.ArgsEscaped, Volumes: c.Volumes, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint,
		OnBuild: c.OnBuild, Labels: c.Labels, StopSignal: c.StopSignal, Shell: c.Shell,
	}
	return ii, nil
}

func familiarName(full string) string {
	r, err := image.ParseReference(full)
	if err != nil {
		return full
	}
	return r.Familiar()
}

// withOmitted puts back into m, the JSON object of a value of type t, the
// fields that omitempty left out, as zero values: a template on them
// (`{{json .Config.ExposedPorts}}`) gives what docker's gives (null), and
// only a key that no field has is an error (missingkey=error).
func withOmitted(m map[string]any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" {
			withOmitted(m, f.Type) // embedded: its fields are m's
			continue
		}
		if name == "" {
			name = f.Name
		}
		v, ok := m[name]
		if !ok {
			m[name] = zeroJSON(f.Type)
			continue
		}
		if sub, isObject := v.(map[string]any); isObject {
			withOmitted(sub, f.Type)
		}
	}
}

// zeroJSON is the zero value of t as JSON decodes it into an any (with
// UseNumber): "" for a string, false, 0; nil (null) for the rest.
func zeroJSON(t reflect.Type) any {
	switch t.Kind() {
	case reflect.String:
		return ""
	case reflect.Bool:
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return json.Number("0")
	}
	return nil
}
