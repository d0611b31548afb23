package relation_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/fedsaga/fedsaga/federation/relation"
)

func TestCheck(t *testing.T) {
	supported := map[string]relation.Relation{}
	for _, r := range relation.Supported {
		supported[r.To] = r
	}
	with := func(extra map[string]relation.Relation) map[string]relation.Relation {
		rels := maps.Clone(supported)
		for name, r := range extra {
			rels[name] = r
		}
		return rels
	}
	const entities = "order, item, product, reservation, payment"
	const loadable = "order → item, item → product, order → reservation, order → payment"
	for _, tc := range []struct {
		name string
		rels map[string]relation.Relation
		want []string // "key: message" of every problem, in order
	}{
		{"supported", supported, nil},
		{"none", nil, nil},
		{"unknown entities", with(map[string]relation.Relation{
			"bill":  {From: "order", To: "invoice"},
			"bad":   {From: "", To: "Item"},
			"cycle": {From: "product", To: "order"}, // not reported while an entity is unknown
		}), []string{
			`federation.relations.bad.from: "" is not an entity; want one of ` + entities,
			`federation.relations.bad.to: "Item" is not an entity; want one of ` + entities,
			`federation.relations.bill.to: "invoice" is not an entity; want one of ` + entities,
		}},
		{"cycle", with(map[string]relation.Relation{
			"back":     {From: "product", To: "order"},
			"sideways": {From: "item", To: "payment"}, // not reported beside a cycle
		}), []string{
			"federation.relations: CircularReferenceError: federation.relations form a cycle: item → product → order → item (relations product, back, item); remove one of them",
		}},
		{"unsupported", with(map[string]relation.Relation{
			"pay":  {From: "item", To: "payment"},
			"held": {From: "product", To: "reservation"},
		}), []string{
			"federation.relations.held: fedsaga cannot load product → reservation; supported relations: " + loadable,
			"federation.relations.pay: fedsaga cannot load item → payment; supported relations: " + loadable,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range relation.Check(tc.rels) {
				got = append(got, p.Key+": "+p.Err.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Check() =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestCheckCycleIsTyped(t *testing.T) {
	problems := relation.Check(map[string]relation.Relation{"parent": {From: "order", To: "order"}})
	var ce *relation.CircularReferenceError
	if len(problems) != 1 || !errors.As(problems[0].Err, &ce) ||
		!slices.Equal(ce.Path, []string{"order", "order"}) || !slices.Equal(ce.Relations, []string{"parent"}) {
		t.Errorf("Check() = %+v, want one *CircularReferenceError order → order via parent", problems)
	}
}
