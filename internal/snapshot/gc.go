package snapshot

import "errors"

// Collect removes every snapshot that no root reaches, then what
// unfinished operations left behind (CleanTemp). A root keeps its
// snapshot and the parents below it; a flattened snapshot lives as long
// as the chain it merges. The roots are the store's to list (images'
// chains, containers, kept layers): anything else, such as an active
// snapshot of a crashed build or unpack, is debris. Only call it when no
// operation can be running (under the store's exclusive lock). It returns
// the keys it removed.
func Collect(sn Snapshotter, roots []string) ([]string, error) {
	parent := map[string]string{}
	var all []string
	err := sn.Walk(func(in Info) error {
		parent[in.Name] = in.Parent
		all = append(all, in.Name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, k := range roots {
		for k != "" && !live[k] {
			live[k] = true
			k = parent[k]
		}
	}
	var removed []string
	for _, k := range all {
		if c, ok := isFlat(k); live[k] || ok && live[c] {
			continue
		}
		if err := sn.Remove(k); err != nil && !errors.Is(err, ErrNotFound) {
			return removed, err
		}
		removed = append(removed, k)
	}
	return removed, sn.CleanTemp()
}
