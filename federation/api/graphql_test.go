package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// graphQL posts a query with its variables to /graphql, with the bearer
// token when there is one.
func graphQL(t *testing.T, base, token, query string, variables map[string]any) response {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, nil, req)
}

// at follows a path of keys and indexes into a JSON value.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// gqlErrors are the errors of an answer.
func (r response) gqlErrors() []map[string]any {
	var out []map[string]any
	for _, e := range at(r.body, "errors").([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// reads counts the read statements per database from now on.
func (s *apiTest) reads(t *testing.T) func() map[string]int64 {
	before := map[string]int64{}
	for _, name := range config.RequiredDatabases {
		db, err := s.reg.DB(name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = db.Stats().Reads
	}
	return func() map[string]int64 {
		out := map[string]int64{}
		for _, name := range config.RequiredDatabases {
			db, _ := s.reg.DB(name)
			out[name] = db.Stats().Reads - before[name]
		}
		return out
	}
}

func TestGraphQLQueriesPerSelectedRelation(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	pgtest.SeedOrders(t, dbs, 1000)
	s := start(t, dbs, func(f *config.Federation) { f.MaxPageSize = 1000 })
	for _, tc := range []struct {
		node string
		want map[string]int64
	}{
		{"id", map[string]int64{"orders": 1, "inventory": 0, "payments": 0}},
		{"id items { product { name } }", map[string]int64{"orders": 2, "inventory": 1, "payments": 0}},
		{"id items { product { name } } payment { status }", map[string]int64{"orders": 2, "inventory": 1, "payments": 1}},
	} {
		for _, size := range []int{1, 10, 100, 1000} {
			reads := s.reads(t)
			r := graphQL(t, s.base, "", `query($n: Int) { orders(first: $n) { edges { node { `+tc.node+` } } pageInfo { hasNextPage } } }`,
				map[string]any{"n": size})
			got := reads()
			edges, _ := at(r.body, "data", "orders", "edges").([]any)
			if r.code != 200 || len(edges) != size || r.body["errors"] != nil || at(r.body, "data", "orders", "pageInfo", "hasNextPage") != (size < 1000) {
				t.Fatalf("%s, page of %d: %d %.500s", tc.node, size, r.code, r.raw)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("{ %s }, page of %d: reads per database %v, want %v", tc.node, size, got, tc.want)
			}
			last := at(edges, size-1, "node")
			if strings.Contains(tc.node, "items") && (at(last, "items", 1, "product", "name") == nil || len(at(last, "items").([]any)) != 2) {
				t.Errorf("{ %s }, page of %d: last order %v, want two items with products", tc.node, size, last)
			}
			if strings.Contains(tc.node, "payment") && at(last, "payment", "status") != "charged" && size%2 == 0 {
				t.Errorf("{ %s }, page of %d: last order %v, want its payment", tc.node, size, last)
			}
		}
	}
}

func TestGraphQL(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 5)
	s := start(t, dbs, nil)

	// The cursors are GET /v1/orders' ones: either API continues the other's page.
	r := graphQL(t, s.base, "", `{ orders(first: 2) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } } }`, nil)
	rest := get(t, s.base+"/v1/orders?limit=2")
	end := at(r.body, "data", "orders", "pageInfo", "endCursor")
	if r.code != 200 || end == nil || end != rest.body["next"] || at(r.body, "data", "orders", "edges", 1, "cursor") != end ||
		at(r.body, "data", "orders", "edges", 0, "node", "id") != d.IDs[0] || at(r.body, "data", "orders", "pageInfo", "hasNextPage") != true {
		t.Fatalf("first page: %d %s; REST %s", r.code, r.raw, rest.raw)
	}
	r = graphQL(t, s.base, "", `query($after: String) { orders(first: 10, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"after": end})
	restNext := get(t, s.base+"/v1/orders?limit=10&after="+end.(string))
	if edges := at(r.body, "data", "orders", "edges").([]any); len(edges) != 3 || at(edges, 0, "node", "id") != d.IDs[2] ||
		at(r.body, "data", "orders", "pageInfo", "hasNextPage") != false || at(restNext.body, "orders", 0, "id") != d.IDs[2] {
		t.Errorf("second and last page: %s; REST %s", r.raw, restNext.raw)
	}

	// One order, with every relation and field.
	r = graphQL(t, s.base, "", `query($id: ID!) { order(id: $id) { id customerId status totalCents createdAt updatedAt
		items { productId quantity priceCents product { id sku name priceCents stock } }
		reservations { productId quantity status } payment { status amountCents } } }`, map[string]any{"id": d.IDs[1]})
	o := at(r.body, "data", "order")
	if r.code != 200 || at(o, "id") != d.IDs[1] || at(o, "customerId") != "cust" || at(o, "totalCents") != 300.0 ||
		at(o, "items", 0, "product", "name") != "Product "+d.Products[0] || at(o, "items", 1, "priceCents") != 200.0 ||
		at(o, "reservations", 0, "status") != "reserved" || at(o, "payment", "amountCents") != 300.0 {
		t.Errorf("order: %d %s", r.code, r.raw)
	}
	if _, err := time.Parse(time.RFC3339Nano, at(o, "createdAt").(string)); err != nil {
		t.Errorf("createdAt: %v", err)
	}
	r = graphQL(t, s.base, "", `{ order(id: "no-such-order") { id } }`, nil)
	if errs := r.gqlErrors(); at(r.body, "data", "order") != nil || len(errs) != 1 || at(errs[0], "extensions", "code") != "NOT_FOUND" ||
		fmt.Sprint(errs[0]["path"]) != "[order]" {
		t.Errorf("unknown order: %s", r.raw)
	}
	r = graphQL(t, s.base, "", `{ products(ids: ["`+d.Products[2]+`", "ghost"]) { id sku priceCents } }`, nil)
	if at(r.body, "data", "products", 0, "priceCents") != 300.0 || at(r.body, "data", "products", 1) != nil || len(at(r.body, "data", "products").([]any)) != 2 {
		t.Errorf("products: %s", r.raw)
	}

	r = graphQL(t, s.base, "", `{ __typename orders(first: 1) { __typename edges { node { __typename id } } } }`, nil)
	if at(r.body, "data", "__typename") != "Query" || at(r.body, "data", "orders", "edges", 0, "node", "__typename") != "Order" {
		t.Errorf("__typename: %s", r.raw)
	}

	// GET answers queries too.
	g := get(t, s.base+"/graphql?query="+url.QueryEscape(`{ orders(first: 1) { edges { node { id } } } }`))
	if g.code != 200 || at(g.body, "data", "orders", "edges", 0, "node", "id") != d.IDs[0] || g.header.Get("X-Request-Id") == "" {
		t.Errorf("GET /graphql: %d %s", g.code, g.raw)
	}
}

func TestGraphQLInventoryStopsAnswering(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 4)
	inventory := dbs[config.InventoryDB]
	proxy, proxied := pgtest.NewFreezeProxy(t, inventory.URL)
	inventory.URL = proxied
	dbs[config.InventoryDB] = inventory
	const timeout = 300 * time.Millisecond
	s := start(t, dbs, func(f *config.Federation) { f.DatabaseTimeouts = map[string]time.Duration{"inventory": timeout} })
	t.Cleanup(proxy.Close) // before the pools close: a pool closes its frozen connection only once it is dropped

	// A connection to the inventory through the proxy, then its answers stop.
	if r := graphQL(t, s.base, "", `{ products(ids: ["`+d.Products[0]+`"]) { name } }`, nil); r.code != 200 || r.body["errors"] != nil {
		t.Fatalf("products through the proxy: %d %s", r.code, r.raw)
	}
	proxy.Freeze()
	started := time.Now()
	r := graphQL(t, s.base, "", `{ orders(first: 4) { edges { node { id items { productId product { name } } payment { status } } } } }`, nil)
	took := time.Since(started)
	if took > 3*time.Second {
		t.Errorf("answered after %s, want about the inventory's timeout, %s", took, timeout)
	}
	edges, _ := at(r.body, "data", "orders", "edges").([]any)
	if r.code != 200 || len(edges) != 4 {
		t.Fatalf("orders with inventory frozen: %d %s", r.code, r.raw)
	}
	var paths []string
	for i := range edges {
		node := at(edges, i, "node")
		if at(node, "id") != d.IDs[i] || len(at(node, "items").([]any)) != 2 || (i%2 == 1) != (at(node, "payment", "status") == "charged") {
			t.Errorf("order %d: %v, want its items and payment", i, node)
		}
		for j := range 2 {
			if item := at(node, "items", j).(map[string]any); item["productId"] == nil || item["product"] != nil {
				t.Errorf("order %d item %d: %v, want its productId and product null", i, j, item)
			}
			paths = append(paths, fmt.Sprint([]any{"orders", "edges", i, "node", "items", j, "product"}))
		}
	}
	errs := r.gqlErrors()
	var gotPaths []string
	for _, e := range errs {
		gotPaths = append(gotPaths, fmt.Sprint(e["path"]))
		msg := e["message"].(string)
		if at(e, "extensions", "code") != "FEDERATION_TIMEOUT" || at(e, "extensions", "database") != "inventory" || !strings.Contains(msg, "inventory") {
			t.Errorf("error %v, want FEDERATION_TIMEOUT for inventory", e)
		}
		for _, secret := range []string{"127.0.0.1", "postgres", "fedsaga_pgtest", strings.TrimPrefix(proxied, "postgres://")} {
			if strings.Contains(msg, secret) {
				t.Errorf("error message %q shows %q", msg, secret)
			}
		}
	}
	if fmt.Sprint(gotPaths) != fmt.Sprint(paths) {
		t.Errorf("error paths %v, want %v", gotPaths, paths)
	}
	if lines := s.log.errorLines(t); len(lines) != 1 || lines[0]["code"] != "FEDERATION_TIMEOUT" || lines[0]["database"] != "inventory" {
		t.Errorf("log: %v, want one error line for the request, naming the inventory's timeout", lines)
	}
	sameAnswer(t, s.base, `{ orders(first: 2) { edges { node { id items { product { name } } reservations { status } } } } }`, nil)

	// products is a non-null list: its elements are null, each with the
	// error, and the orders beside it are answered.
	r = graphQL(t, s.base, "", `{ products(ids: ["`+d.Products[0]+`", "`+d.Products[1]+`"]) { name } orders(first: 2) { edges { node { id } } } }`, nil)
	errs = r.gqlErrors()
	if r.code != 200 || fmt.Sprint(at(r.body, "data", "products")) != "[<nil> <nil>]" || at(r.body, "data", "orders", "edges", 1, "node", "id") != d.IDs[1] ||
		len(errs) != 2 || fmt.Sprint(errs[0]["path"], errs[1]["path"]) != "[products 0] [products 1]" ||
		at(errs[1], "extensions", "code") != "FEDERATION_TIMEOUT" || at(errs[1], "extensions", "database") != "inventory" {
		t.Errorf("products with inventory frozen: %d %s", r.code, r.raw)
	}
}

func TestGraphQLRefusesBeforeAnyQuery(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 3)
	s := start(t, dbs, func(f *config.Federation) {
		f.API.GraphQL.MaxDepth, f.API.GraphQL.MaxCost, f.API.MaxIDs = 5, 50, 3
	})
	for _, tc := range []struct {
		name, query string
		variables   map[string]any
		message     string // a part of it
	}{
		{"too deep", `{ orders { edges { node { items { product { name } } } } } }`, nil, "6 fields deep; the most allowed is 5"},
		{"too deep through a fragment", `{ orders { edges { node { ...O } } } } fragment O on Order { items { product { name } } }`, nil, "6 fields deep"},
		{"too costly", `{ orders(first: 20) { edges { node { items { productId } payment { status } } } } }`, nil, "costs at least 60"},
		{"too costly with aliases", `{ a: orders(first: 40) { edges { node { id } } } b: orders(first: 40) { edges { node { id } } } }`, nil, "costs at least 80"},
		{"page too large", `query($n: Int) { orders(first: $n) { edges { node { id } } } }`, map[string]any{"n": 101}, "first: want an integer from 1 to 100, got 101"},
		{"empty page", `{ orders(first: 0) { edges { node { id } } } }`, nil, "first: want an integer from 1 to 100, got 0"},
		{"too many ids", `{ products(ids: ["a", "b", "c", "d"]) { id } }`, nil, "ids: at most 3 product ids"},
		{"introspection off", `{ __schema { types { name } } }`, nil, "introspection is off"},
		{"not a cursor", `{ orders(after: "garbage!") { edges { node { id } } } }`, nil, "after: not a cursor"},
		{"malformed", `{ orders(first: 2) { edges { node { id }`, nil, "Expected"},
		{"unknown field", `{ orders { edges { node { id secret } } } }`, nil, `Cannot query field "secret" on type "Order"`},
		{"wrong argument type", `{ orders(first: "ten") { edges { node { id } } } }`, nil, "Int"},
		{"wrong variable type", `query($n: Int) { orders(first: $n) { edges { node { id } } } }`, map[string]any{"n": "ten"}, "Int"},
		{"missing variable", `query($id: ID!) { order(id: $id) { id } }`, nil, "must be defined"},
		{"id with a NUL byte", `query($id: ID!) { order(id: $id) { id } }`, map[string]any{"id": "a\x00b"}, "must not hold a NUL byte"},
		{"no mutations", `mutation { cancel(id: "x") }`, nil, "mutation"},
	} {
		reads := s.reads(t)
		r := graphQL(t, s.base, "", tc.query, tc.variables)
		errs := r.gqlErrors()
		if len(errs) == 0 || at(errs[0], "extensions", "code") != "BAD_REQUEST" || !strings.Contains(errs[0]["message"].(string), tc.message) {
			t.Errorf("%s: %d %s, want BAD_REQUEST saying %q", tc.name, r.code, r.raw, tc.message)
		}
		if got := reads(); got["orders"]+got["inventory"]+got["payments"] != 0 {
			t.Errorf("%s: reads %v, want none", tc.name, got)
		}
		if strings.Contains(r.raw, d.IDs[0]) {
			t.Errorf("%s: answered with data: %s", tc.name, r.raw)
		}
	}
	if lines := s.log.errorLines(t); len(lines) > 0 {
		t.Errorf("refused queries were logged at error level: %v", lines)
	}
	// Within the limits, the same query shapes run.
	if r := graphQL(t, s.base, "", `{ orders(first: 20) { edges { node { items { productId } } } } }`, nil); r.code != 200 || r.body["errors"] != nil {
		t.Errorf("a query of cost 40: %d %s", r.code, r.raw)
	}

	// Introspection on, for tools.
	open := start(t, dbs, func(f *config.Federation) { f.API.GraphQL.Introspection = true })
	r := graphQL(t, open.base, "", `{ __type(name: "Order") { fields { name } } }`, nil)
	if r.code != 200 || !strings.Contains(r.raw, `"customerId"`) {
		t.Errorf("introspection on: %d %s", r.code, r.raw)
	}
}

func TestGraphQLAuthentication(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 1)
	s := start(t, dbs, func(f *config.Federation) {
		f.API.Auth, f.API.Tokens = config.APIAuthRequired, []config.Secret{tokenOld}
	})
	query := `{ orders { edges { node { id } } } }`
	for _, token := range []string{"", tokenOld + "x"} {
		r := graphQL(t, s.base, token, query, nil)
		if errs := r.gqlErrors(); r.code != 401 || len(errs) != 1 || at(errs[0], "extensions", "code") != "UNAUTHENTICATED" || strings.Contains(r.raw, d.IDs[0]) {
			t.Errorf("token %q: %d %s, want 401 UNAUTHENTICATED", token, r.code, r.raw)
		}
	}
	if r := graphQL(t, s.base, tokenOld, query, nil); r.code != 200 || at(r.body, "data", "orders", "edges", 0, "node", "id") != d.IDs[0] {
		t.Errorf("with the token: %d %s", r.code, r.raw)
	}
}

// BenchmarkGraphQLPage is the GraphQL page of 100 orders with every field
// against the REST page, through the handler, without a network; and the
// same GraphQL page executed by gqlgen field by field (graphqlpage.go).
//
//	go test ./federation/api -run '^$' -bench GraphQLPage
func BenchmarkGraphQLPage(b *testing.B) {
	dbs := pgtest.Databases(b, config.RequiredDatabases...)
	pgtest.SeedOrders(b, dbs, 200)
	reg, err := pg.Open(dbs, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	reader, err := federation.NewReader(reg, config.Default().Federation)
	if err != nil {
		b.Fatal(err)
	}
	h := (&api.Server{Reader: reader, DefaultPageSize: 100, MaxPageSize: 100, GraphQL: config.DefaultGraphQL(), Logger: zerolog.Nop()}).Handler()
	full, _ := json.Marshal(map[string]any{"query": `{ orders(first: 100) { edges { node {
		id customerId status totalCents createdAt updatedAt
		items { productId quantity priceCents product { id sku name priceCents stock } }
		reservations { productId quantity status } payment { status amountCents } } } pageInfo { endCursor } } }`})
	post := func() *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(full))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	for _, page := range []struct {
		name    string
		generic bool // gqlgen's execution of the page, without the page writer
		req     func() *http.Request
	}{
		{"rest", false, func() *http.Request { return httptest.NewRequest(http.MethodGet, "/v1/orders?limit=100", nil) }},
		{"graphql", false, post},
		{"graphql-generic", true, post},
	} {
		b.Run(page.name, func(b *testing.B) {
			api.GenericGraphQL(page.generic)
			defer api.GenericGraphQL(false)
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, page.req())
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("%d %.300s", rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// sameAnswer compares an answer of the page writer with gqlgen's own
// execution of the same query (graphqlpage.go), request ids aside.
func sameAnswer(t *testing.T, base, query string, variables map[string]any) response {
	t.Helper()
	normal := func(r response) string {
		errs, _ := r.body["errors"].([]any)
		for _, e := range errs {
			if ext, ok := at(e, "extensions").(map[string]any); ok {
				delete(ext, "requestId")
			}
		}
		b, _ := json.Marshal(r.body)
		return string(b)
	}
	fast := graphQL(t, base, "", query, variables)
	api.GenericGraphQL(true)
	generic := graphQL(t, base, "", query, variables)
	api.GenericGraphQL(false)
	if fast.code != generic.code || normal(fast) != normal(generic) {
		t.Errorf("%s\npage writer: %d %s\ngqlgen:      %d %s", query, fast.code, fast.raw, generic.code, generic.raw)
	}
	return fast
}

func TestGraphQLPageWriterAnswersAsGqlgen(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	pgtest.SeedOrders(t, dbs, 5)
	s := start(t, dbs, nil)
	end := at(graphQL(t, s.base, "", `{ orders(first: 5) { pageInfo { endCursor } } }`, nil).body, "data", "orders", "pageInfo", "endCursor")
	if end == nil {
		t.Fatal("no endCursor")
	}
	for _, q := range []struct {
		query string
		vars  map[string]any
	}{
		{`{ orders(first: 5) { edges { cursor node { id customerId status totalCents createdAt updatedAt
			items { productId quantity priceCents product { id sku name priceCents stock } }
			reservations { productId quantity status } payment { status amountCents } } } pageInfo { hasNextPage endCursor } } }`, nil},
		{`query($n: Int, $full: Boolean!) { __typename a: orders(first: $n) { __typename pageInfo { endCursor __typename } edges { ...E } }
			b: orders(first: 1) { edges { node { id } } } }
			fragment E on OrderEdge { node { ... on Order { id i: items @include(if: $full) { p: product { n: name } } } payment @skip(if: $full) { status }
			reservations { status } __typename id } __typename }`, map[string]any{"n": 3, "full": true}},
		{`query($full: Boolean!) { orders { edges { node { items @include(if: $full) { productId } payment @skip(if: $full) { amountCents } } } } }`,
			map[string]any{"full": false}},
		{`query($after: String) { orders(after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"after": end}},
		{`{ orders(first: 0) { edges { node { id } } } }`, nil},
		{`{ orders(after: "not a cursor") { edges { node { id } } } }`, nil},
	} {
		sameAnswer(t, s.base, q.query, q.vars)
	}
}
