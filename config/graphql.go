package config

// GraphQL bounds the read API's GraphQL endpoint, /graphql
// ([federation.api.graphql]); the page size is federation.max_page_size's,
// the ids of products(ids:) federation.api.max_ids', as in REST.
type GraphQL struct {
	// Introspection answers __schema and __type queries (tools, code
	// generators). Default false: a production API need not describe
	// itself; the schema is in federation/api/schema.graphql. The local
	// configuration (fedsaga.toml) turns it on.
	Introspection bool `koanf:"introspection"`
	// MaxDepth is the deepest nesting of fields a query may select, 1 to
	// 100: orders { edges { node { items { product { name } } } } } is 6.
	// Default 10.
	MaxDepth int `koanf:"max_depth"`
	// MaxCost is the most a query may cost, 1 to 1000000: each root field
	// costs the orders or products it may return (first, or 1 for order, or
	// the number of ids) times 1 + the relation fields (items, product,
	// reservations, payment) selected under it. Default 5000: a page of
	// 1000 orders with every relation.
	MaxCost int `koanf:"max_cost"`
}

// DefaultGraphQL returns the defaults of [federation.api.graphql].
func DefaultGraphQL() GraphQL {
	return GraphQL{MaxDepth: 10, MaxCost: 5000}
}

// graphQL checks [federation.api.graphql].
func (v *validator) graphQL(key string, g GraphQL) {
	v.between(key+".max_depth", g.MaxDepth, 1, 100)
	v.between(key+".max_cost", g.MaxCost, 1, 1000000)
}
