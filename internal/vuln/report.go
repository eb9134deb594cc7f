package vuln

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/strata-dev/strata/internal/sbom"
)

// Report is a scan's result: the image, its layers and the findings.
type Report struct {
	Image    string       `json:"image"`
	ImageID  string       `json:"imageID"`
	Distro   *sbom.Distro `json:"distro,omitempty"`
	Layers   []sbom.Layer `json:"layers"`
	Findings []Finding    `json:"findings"`
	// Advisories counts the records the scan read.
	Advisories int      `json:"advisories"`
	Warnings   []string `json:"warnings,omitempty"`
}

// Filter keeps the findings whose severity is in severities (all when
// empty) and, with onlyPresent, those of packages in the final filesystem.
func (r *Report) Filter(severities []string, onlyPresent bool) {
	var keep []Finding
	for _, f := range r.Findings {
		if onlyPresent && !f.Present() {
			continue
		}
		if len(severities) > 0 && !contains(severities, f.Severity) {
			continue
		}
		keep = append(keep, f)
	}
	r.Findings = keep
}

// ParseSeverities reads --severity's comma-separated list.
func ParseSeverities(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, w := range strings.Split(s, ",") {
		w = strings.ToUpper(strings.TrimSpace(w))
		if !contains(severities, w) {
			return nil, fmt.Errorf("unknown severity %q (want %s)", w, strings.Join(severities, ","))
		}
		out = append(out, w)
	}
	return out, nil
}

// WriteTable writes the findings grouped by the layer that ships them, in
// history order, each layer headed by its instruction.
func WriteTable(w io.Writer, r *Report) error {
	last := -1
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	present := 0
	for _, f := range r.Findings {
		if f.Layer != last {
			if last >= 0 {
				fmt.Fprintln(tw)
			}
			last = f.Layer
			l := r.Layers[f.Layer]
			fmt.Fprintf(tw, "LAYER %d  %s  %s\n", l.Index, shortDigest(l.Digest), oneLine(l.Instruction, 70))
			fmt.Fprintln(tw, "  ID\tPACKAGE\tINSTALLED\tFIXED\tSEVERITY\tSTATUS\tPATH")
		}
		if f.Present() {
			present++
		}
		pkg := f.Package
		if f.Source != "" {
			pkg += " (" + f.Source + ")"
		}
		fixed := f.Fixed
		if fixed == "" {
			fixed = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, pkg, f.Installed, fixed, f.Severity, f.Status(), f.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintf(w, "%s (%s read): %d in the final filesystem, %d in packages a later layer removed but still shipped\n",
		plural(len(r.Findings), "finding"), plural(r.Advisories, "advisory"), present, len(r.Findings)-present)
	return err
}

// plural is "1 finding", "2 findings", "2 advisories".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// oneLine is an instruction on one line, at most n characters.
func oneLine(s string, n int) string {
	s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	s = strings.TrimPrefix(s, "/bin/sh -c ")
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// WriteJSON writes the report indented.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return enc.Encode(r)
}

// The SARIF 2.1.0 subset code hosts read: one run, a rule per advisory,
// a result per finding located at the package's file.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool struct {
		Driver struct {
			Name           string      `json:"name"`
			InformationURI string      `json:"informationUri"`
			Rules          []sarifRule `json:"rules"`
		} `json:"driver"`
	} `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifRule struct {
	ID               string            `json:"id"`
	ShortDescription sarifText         `json:"shortDescription"`
	Properties       map[string]string `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string            `json:"ruleId"`
	Level      string            `json:"level"`
	Message    sarifText         `json:"message"`
	Locations  []sarifLocation   `json:"locations"`
	Properties map[string]string `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
}

// sarifLevel maps a severity to SARIF's levels.
func sarifLevel(sev string) string {
	switch sev {
	case "CRITICAL", "HIGH":
		return "error"
	case "MEDIUM":
		return "warning"
	}
	return "note"
}

// WriteSARIF writes the findings as a SARIF 2.1.0 log.
func WriteSARIF(w io.Writer, r *Report) error {
	var run sarifRun
	run.Tool.Driver.Name = "strata"
	run.Tool.Driver.InformationURI = "https://github.com/strata-dev/strata"
	run.Tool.Driver.Rules = []sarifRule{}
	run.Results = []sarifResult{}
	rules := map[string]bool{}
	for _, f := range r.Findings {
		if !rules[f.ID] {
			rules[f.ID] = true
			text := f.Summary
			if text == "" {
				text = f.ID
			}
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: f.ID, ShortDescription: sarifText{text},
				Properties: map[string]string{"severity": f.Severity}})
		}
		fixed := "no fixed version known"
		if f.Fixed != "" {
			fixed = "fixed in " + f.Fixed
		}
		res := sarifResult{
			RuleID: f.ID, Level: sarifLevel(f.Severity),
			Message: sarifText{fmt.Sprintf("%s %s (%s) in layer %d is affected by %s, %s; %s",
				f.Package, f.Installed, f.Ecosystem, f.Layer, f.ID, fixed, f.Status())},
			Properties: map[string]string{"purl": f.PURL, "layer": fmt.Sprint(f.Layer),
				"layerDigest": r.Layers[f.Layer].Digest, "status": f.Status()},
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = f.Path
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// Scan matches s against the advisories of dir.
func Scan(s *sbom.SBOM, dir string) (*Report, error) {
	r := &Report{Image: s.Image, ImageID: s.ImageID, Distro: s.Distro, Layers: s.Layers}
	warn := func(w string) { r.Warnings = append(r.Warnings, w) }
	db, err := Load(dir, Ecosystems(s), warn)
	if err != nil {
		return nil, err
	}
	r.Advisories = db.Advisories
	r.Findings = Match(s, db, warn)
	return r, nil
}
