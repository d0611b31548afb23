// Package relation is the single authority on the federated relations:
// which entities exist, which relations the reader can load, and that the
// declared relations form no cycle. Configuration validation and the
// reader both ask it; it imports nothing of fedsaga, so that config can.
package relation

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Entities are the names relations may use.
var Entities = []string{"order", "item", "product", "reservation", "payment"}

// Relation is one federated relation: every From row has related To rows,
// possibly in another database.
type Relation struct {
	From string `koanf:"from"`
	To   string `koanf:"to"`
}

func (r Relation) String() string { return r.From + " → " + r.To }

// Supported are the relations the reader can load, in the order they are
// listed in errors.
var Supported = []Relation{
	{From: "order", To: "item"},
	{From: "item", To: "product"},
	{From: "order", To: "reservation"},
	{From: "order", To: "payment"},
}

// Problem is one thing wrong with the declared relations, under its
// configuration key: "federation.relations" (the whole table), its ".NAME"
// or ".NAME.from".
type Problem struct {
	Key string
	Err error
}

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

// Check reports every problem with rels, keyed by relation name: an
// entity that does not exist, then a cycle (as a *CircularReferenceError,
// which names the path), then any relation the reader cannot load.
func Check(rels map[string]Relation) []Problem {
	const table = "federation.relations"
	var problems []Problem
	names := slices.Sorted(maps.Keys(rels))
	for _, name := range names {
		r := rels[name]
		for _, end := range [...]struct{ field, entity string }{{"from", r.From}, {"to", r.To}} {
			if !slices.Contains(Entities, end.entity) {
				problems = append(problems, Problem{Key: table + "." + name + "." + end.field,
					Err: fmt.Errorf("%q is not an entity; want one of %s", end.entity, strings.Join(Entities, ", "))})
			}
		}
	}
	if problems != nil {
		return problems
	}
	if cycle := FindCycle(rels); cycle != nil {
		return []Problem{{Key: table, Err: cycle}}
	}
	known := make([]string, len(Supported))
	for i, s := range Supported {
		known[i] = s.String()
	}
	for _, name := range names {
		if r := rels[name]; !slices.Contains(Supported, r) {
			problems = append(problems, Problem{Key: table + "." + name,
				Err: fmt.Errorf("fedsaga cannot load %s; supported relations: %s", r, strings.Join(known, ", "))})
		}
	}
	return problems
}

// FindCycle returns the first cycle among rels, in a stable order, or nil.
func FindCycle(rels map[string]Relation) *CircularReferenceError {
	names := slices.Sorted(maps.Keys(rels))
	done := map[string]bool{} // entities whose paths hold no cycle
	var path, via []string
	var visit func(entity string) *CircularReferenceError
	visit = func(entity string) *CircularReferenceError {
		if i := slices.Index(path, entity); i >= 0 {
			return &CircularReferenceError{Path: append(slices.Clone(path[i:]), entity), Relations: slices.Clone(via[i:])}
		}
		if done[entity] {
			return nil
		}
		path = append(path, entity)
		for _, name := range names {
			if rels[name].From == entity {
				via = append(via, name)
				if err := visit(rels[name].To); err != nil {
					return err
				}
				via = via[:len(via)-1]
			}
		}
		path, done[entity] = path[:len(path)-1], true
		return nil
	}
	froms := map[string]bool{}
	for _, r := range rels {
		froms[r.From] = true
	}
	for _, entity := range slices.Sorted(maps.Keys(froms)) {
		if err := visit(entity); err != nil {
			return err
		}
	}
	return nil
}
