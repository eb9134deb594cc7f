//lint:file-ignore ST1005 docker's words, which scripts match

package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-dev/strata/internal/metadata"
)

// Rename gives a container another name, checked as create checks a
// --name (docker's words when it is taken, bad, or the same).
func (m *Manager) Rename(r *Record, name string) error {
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		return errors.New("Neither old nor new names may be empty")
	}
	if name == r.Name {
		return errors.New("Renaming a container with the same name as its current name")
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("Error when allocating new name: Invalid container name (/%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	old := r.Name
	err := m.St.Meta.Update(func(tx *metadata.Tx) error {
		var cur *Record
		err := tx.ForEach(metadata.BucketContainers, func(key string, raw []byte) error {
			var other Record
			if json.Unmarshal(raw, &other) != nil {
				return nil
			}
			switch {
			case other.ID == r.ID:
				cur = &other
			case other.Name == name:
				return fmt.Errorf("Error when allocating new name: Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchContainer, r.Name)
		}
		cur.Name = name
		return tx.Put(metadata.BucketContainers, cur.ID, cur)
	})
	if err != nil {
		return err
	}
	r.Name = name
	m.event(r, "rename", "oldName", "/"+old)
	return nil
}
