package config

import (
	"fmt"
	"slices"
	"strings"
)

// Entities are the names relations may use.
var Entities = []string{"order", "item", "product", "reservation", "payment"}

// CircularReferenceError is a cycle among the federated relations: loading
// it would never end. Path lists the entities around the cycle, the first
// repeated at the end.
type CircularReferenceError struct {
	Path      []string
	Relations []string // the relation names along the path
}

func (e *CircularReferenceError) Error() string {
	return fmt.Sprintf("CircularReferenceError: federation.relations form a cycle: %s (relations %s); remove one of them",
		strings.Join(e.Path, " → "), strings.Join(e.Relations, ", "))
}

// findCycle returns the first cycle among the relations, in a stable order.
func findCycle(rels map[string]Relation) *CircularReferenceError {
	out := map[string][]string{} // entity → relation names from it
	for _, name := range sortedKeys(rels) {
		out[rels[name].From] = append(out[rels[name].From], name)
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path, via []string
	var visit func(entity string) *CircularReferenceError
	visit = func(entity string) *CircularReferenceError {
		state[entity] = onPath
		path = append(path, entity)
		for _, name := range out[entity] {
			to := rels[name].To
			via = append(via, name)
			switch state[to] {
			case onPath:
				start := slices.Index(path, to)
				return &CircularReferenceError{
					Path:      append(slices.Clone(path[start:]), to),
					Relations: slices.Clone(via[start:]),
				}
			case unseen:
				if err := visit(to); err != nil {
					return err
				}
			}
			via = via[:len(via)-1]
		}
		path = path[:len(path)-1]
		state[entity] = done
		return nil
	}
	for _, from := range sortedKeys(out) {
		if state[from] == unseen {
			if err := visit(from); err != nil {
				return err
			}
		}
	}
	return nil
}
