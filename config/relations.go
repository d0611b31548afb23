package config

import "github.com/fedsaga/fedsaga/federation/relation"

// Relation is one federated relation; see federation/relation, the
// authority on which relations fedsaga can follow.
type Relation = relation.Relation

// CircularReferenceError is a cycle among the federated relations.
type CircularReferenceError = relation.CircularReferenceError
