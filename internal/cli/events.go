package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/strata-dev/strata/internal/events"
	"github.com/strata-dev/strata/internal/image"
	"github.com/strata-dev/strata/internal/store"
)

// eventMessage is docker's events.Message, what `events --format` sees:
// the legacy status/id/from beside Type, Action and Actor.
type eventMessage struct {
	Status   string     `json:"status,omitempty"`
	ID       string     `json:"id,omitempty"`
	From     string     `json:"from,omitempty"`
	Type     string     `json:"Type"`
	Action   string     `json:"Action"`
	Actor    eventActor `json:"Actor"`
	Scope    string     `json:"scope"`
	Time     int64      `json:"time"`
	TimeNano int64      `json:"timeNano"`
}

type eventActor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

func newEventMessage(e events.Event) eventMessage {
	m := eventMessage{
		Status: e.Action, ID: e.ID, Type: e.Type, Action: e.Action,
		Actor: eventActor{ID: e.ID, Attributes: e.Attributes},
		Scope: "local", Time: e.Time.Unix(), TimeNano: e.Time.UnixNano(),
	}
	if e.Type == "container" {
		m.From = e.Attributes["image"]
	}
	return m
}

// eventLine is docker's default line: time, type, action, ID and the
// attributes sorted by key.
func eventLine(e events.Event) string {
	keys := make([]string, 0, len(e.Attributes))
	for k := range e.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]string, len(keys))
	for i, k := range keys {
		attrs[i] = k + "=" + e.Attributes[k]
	}
	line := e.Time.Local().Format(timestampFormat) + " " + e.Type + " " + e.Action + " " + e.ID
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}

// eventFilters are the --filter keys of the events strata records.
var eventFilters = []string{"container", "event", "image", "label", "type"}

// eventMatcher is docker's filtering of events: container by ID (or
// prefix) or name, event by action (health_status matches
// "health_status: healthy"), image by name or ID, label on the
// attributes, type.
func eventMatcher(f filterArgs) func(events.Event) bool {
	return func(e events.Event) bool {
		action, _, _ := strings.Cut(e.Action, ":")
		return f.match("type", func(v string) bool { return v == e.Type }) &&
			f.match("event", func(v string) bool { return v == e.Action || v == action }) &&
			f.match("container", func(v string) bool {
				return e.Type == "container" && (strings.HasPrefix(e.ID, v) || e.Attributes["name"] == v)
			}) &&
			f.match("image", func(v string) bool {
				return e.Attributes["image"] == v || e.Type == "image" && (e.ID == v || e.Attributes["name"] == v)
			}) &&
			f.match("label", func(v string) bool { return matchLabel(e.Attributes, v) })
	}
}

func newEventsCmd(a *app) *cobra.Command {
	var since, until, format string
	var filters []string
	c := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fa, err := parseFilters(filters, eventFilters...)
			if err != nil {
				return err
			}
			now := a.now()
			var ef events.Filter
			if ef.Since, err = parseTimeFlag("since", since, now); err != nil {
				return err
			}
			if ef.Until, err = parseTimeFlag("until", until, now); err != nil {
				return err
			}
			if since == "" {
				ef.Since = now // docker: only what happens from now on
			}
			ef.Match = eventMatcher(fa)
			var print func(events.Event) error
			if format == "" {
				print = func(e events.Event) error { _, err := fmt.Fprintln(a.stdout, eventLine(e)); return err }
			} else {
				t := table{format: format}
				print = func(e events.Event) error { return t.print(a.stdout, []any{newEventMessage(e)}) }
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd.Context())
			defer cancel()
			return st.Events().Read(ctx, ef, print)
		},
	}
	c.Flags().StringVar(&since, "since", "", "Show all events created since timestamp")
	c.Flags().StringVar(&until, "until", "", "Stream events until this timestamp")
	stringArrayVarP(c.Flags(), &filters, "filter", "f", "Filter output based on conditions provided (container, event, image, label, type)")
	c.Flags().StringVar(&format, "format", "", "Format the output using the given Go template")
	return c
}

// removalEvents records docker's untag and delete events of a removal
// (rmi, prune): both name the image by its ID.
func (a *app) removalEvents(rm store.Removal) {
	st, err := a.store()
	if err != nil {
		return
	}
	if rm.Image != "" {
		for range rm.Untagged {
			st.ImageEvent("untag", rm.Image.String(), rm.Image.String())
		}
	}
	if len(rm.Deleted) > 0 {
		st.ImageEvent("delete", rm.Deleted[0].String(), rm.Deleted[0].String())
	}
}

// tagged records a tag's event when err (the tag's result) is nil.
func tagged(st *store.Store, id digest.Digest, ref image.Reference, err error) error {
	if err == nil {
		st.ImageEvent("tag", id.String(), ref.Familiar())
	}
	return err
}
