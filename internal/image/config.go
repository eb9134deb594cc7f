package image

import (
	"encoding/json"
	"fmt"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ConfigFile is an image config as docker writes it: the OCI image config
// with docker's container-config extensions (Healthcheck, OnBuild, Shell,
// from moby/docker-image-spec) and the top-level fields docker adds.
// Reading and writing this superset keeps what docker-built images carry.
type ConfigFile struct {
	dockerspec.DockerOCIImage
	Comment       string `json:"comment,omitempty"`
	Container     string `json:"container,omitempty"`
	DockerVersion string `json:"docker_version,omitempty"`
}

// ContainerConfig is the runtime configuration an image gives its containers.
type ContainerConfig = dockerspec.DockerOCIImageConfig

// HealthConfig is docker's HEALTHCHECK.
type HealthConfig = dockerspec.HealthcheckConfig

// ParseConfigFile decodes an image config with docker's extra fields and
// checks its rootfs.
func ParseConfigFile(b []byte) (*ConfigFile, error) {
	if _, err := ParseConfig(b); err != nil {
		return nil, err
	}
	var c ConfigFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("malformed image config: %v", err)
	}
	return &c, nil
}

// LayerInstructions pairs layers with the history entries that made them,
// as docker history and dive do: entries marked empty_layer made no layer,
// the others are matched to layers in order. A layer with no entry left
// gets "(missing)", dive's word for it.
func LayerInstructions(h []ocispec.History, n int) []string {
	out := make([]string, n)
	i := 0
	for li := range out {
		for i < len(h) && h[i].EmptyLayer {
			i++
		}
		if i < len(h) {
			out[li] = h[i].CreatedBy
			if out[li] == "" {
				out[li] = h[i].Comment
			}
			i++
		} else {
			out[li] = "(missing)"
		}
	}
	return out
}
