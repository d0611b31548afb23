package api

//go:generate go tool gqlgen generate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api/gql"
)

// GraphQLPath is where the read API answers GraphQL (schema.graphql):
// POST with a JSON body {"query", "operationName", "variables"}, or GET
// with those as URL parameters, for queries.
const GraphQLPath = "/graphql"

// maxGraphQLBody is the most bytes of a POST /graphql body; a query of the
// schema's every field with aliases fits in a fraction of it.
const maxGraphQLBody = 64 << 10

func init() {
	// A query over the limits is refused like an invalid one: HTTP 422.
	errcode.RegisterErrorType(string(CodeBadRequest), errcode.KindProtocol)
}

// graphQL is the /graphql handler: gqlgen's server over the resolvers,
// with the limits checked before any resolver runs, introspection when
// configured, and every error mapped to a Code as REST maps it.
func (a *Server) graphQL() http.Handler {
	srv := handler.New(gql.NewExecutableSchema(gql.Config{Resolvers: resolver{a}}))
	srv.AddTransport(rawData{transport.GET{}}) // graphqlwrite.go
	srv.AddTransport(rawData{transport.POST{}})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetDisableSuggestion(true) // no "did you mean" listing the schema when introspection is off
	srv.Use(limits{a})
	if a.GraphQL.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.SetErrorPresenter(a.presentGraphQL)
	srv.AroundRootFields(fastPages) // graphqlpage.go
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil { // errors in the order of their paths, whatever order the fields resolved in
			slices.SortStableFunc(resp.Errors, func(a, b *gqlerror.Error) int { return comparePaths(a.Path, b.Path) })
		}
		return resp
	})
	return http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := &graphQLErrors{}
		srv.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), graphQLErrorsKey{}, log)))
		log.write(a, r)
	}), maxGraphQLBody)
}

// comparePaths orders paths element by element, an index before a name.
func comparePaths(a, b ast.Path) int {
	for i := range min(len(a), len(b)) {
		ai, aIndex := a[i].(ast.PathIndex)
		bi, bIndex := b[i].(ast.PathIndex)
		switch {
		case aIndex && bIndex:
			if c := cmp.Compare(ai, bi); c != 0 {
				return c
			}
		case aIndex != bIndex:
			if aIndex {
				return -1
			}
			return 1
		default:
			if c := cmp.Compare(fmt.Sprint(a[i]), fmt.Sprint(b[i])); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}

// graphQLErrors collects a request's errors, so that the log gets one line
// per request, not one per field of a page.
type graphQLErrors struct {
	mu   sync.Mutex
	errs []*Error
}

type graphQLErrorsKey struct{}

func (l *graphQLErrors) add(e *Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, e)
}

// write logs the request's errors under its request id: at error level
// when one is fedsaga's or a database's (the first such cause in full),
// at debug level when they are all the caller's.
func (l *graphQLErrors) write(a *Server, r *http.Request) {
	if len(l.errs) == 0 {
		return
	}
	first, codes := l.errs[0], map[Code]int{}
	for _, e := range l.errs {
		codes[e.Code]++
		if e.Code.Status() > first.Code.Status() {
			first = e
		}
	}
	ev := a.Logger.Debug()
	if first.Code.Status() >= 500 {
		ev = a.Logger.Error()
	}
	ev.Str("request_id", requestID(r.Context())).Str("method", r.Method).Str("path", GraphQLPath).
		Interface("codes", codes).Str("code", string(first.Code)).Str("database", first.Database).
		Str("message", first.Message).AnErr("cause", first.Err).Msg("GraphQL request had errors")
}

// presentGraphQL turns an error of a query into the GraphQL error a caller
// sees: extensions.code is a Code (classify, as REST), extensions.database
// the database at fault, extensions.argument the argument; the message
// names no host, user or URL. An error of the request itself (syntax,
// unknown field, wrong variable type, a limit) is BAD_REQUEST.
func (a *Server) presentGraphQL(ctx context.Context, err error) *gqlerror.Error {
	gerr, ok := errors.AsType[*gqlerror.Error](err)
	if !ok {
		gerr = gqlerror.WrapPath(graphql.GetPath(ctx), err)
	}
	e := &Error{Code: CodeBadRequest, Message: gerr.Message}
	if gerr.Err != nil {
		e = classify(gerr.Err)
	}
	ext := map[string]any{"code": e.Code}
	if e.Database != "" {
		ext["database"] = e.Database
	}
	if e.Parameter != "" {
		ext["argument"] = e.Parameter
	}
	if id := requestID(ctx); id != "" {
		ext["requestId"] = id
	}
	if log, ok := ctx.Value(graphQLErrorsKey{}).(*graphQLErrors); ok {
		log.add(e)
	}
	return &gqlerror.Error{Message: e.Message, Path: gerr.Path, Locations: gerr.Locations, Extensions: ext}
}

// graphQLFail answers a request refused before GraphQL ran (authentication)
// in GraphQL's shape.
func graphQLFail(w http.ResponseWriter, status int, b body) {
	ext := map[string]any{"code": b.Code, "requestId": b.RequestID}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": b.Message, "extensions": ext}}})
}

// limits refuses, after validation and before any resolver runs, a query
// over the limits of [federation.api.graphql] or the page and id limits of
// REST.
type limits struct{ a *Server }

func (limits) ExtensionName() string                          { return "FedsagaLimits" }
func (limits) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l limits) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	err := l.a.checkQuery(op)
	if err == nil {
		return nil
	}
	gerr := &gqlerror.Error{Message: err.Message, Err: err}
	errcode.Set(gerr, string(CodeBadRequest))
	return gerr
}

// relationFields are the fields that cost a query per database each.
var relationFields = []string{"items", "product", "reservations", "payment"}

// checkQuery checks the operation's depth, its cost, the page sizes and
// id counts of its root fields, and that it asks for introspection only
// when that is on.
func (a *Server) checkQuery(op *graphql.OperationContext) *Error {
	cfg := a.GraphQL
	var problem *Error
	// walk returns the depth below the fields and the relations among them.
	var walk func(fields []graphql.CollectedField, depth int) (deepest, relations int)
	walk = func(fields []graphql.CollectedField, depth int) (deepest, relations int) {
		deepest = depth
		for _, f := range fields {
			if f.Name == "__schema" || f.Name == "__type" {
				if !cfg.Introspection && problem == nil {
					problem = &Error{Code: CodeBadRequest, Message: "introspection is off on this server; the schema is fedsaga's federation/api/schema.graphql"}
				}
				continue // its depth is the schema's, not the data's
			}
			if slices.Contains(relationFields, f.Name) {
				relations++
			}
			if f.Definition == nil || len(f.Selections) == 0 { // a leaf
				deepest = max(deepest, depth+1)
				continue
			}
			d, r := walk(graphql.CollectFields(op, f.Selections, []string{f.Definition.Type.Name()}), depth+1)
			deepest, relations = max(deepest, d), relations+r
		}
		return deepest, relations
	}
	cost := 0
	for _, f := range graphql.CollectFields(op, op.Operation.SelectionSet, []string{"Query"}) {
		d, relations := walk([]graphql.CollectedField{f}, 0)
		if d > cfg.MaxDepth {
			return &Error{Code: CodeBadRequest, Message: fmt.Sprintf("%s: the query is %d fields deep; the most allowed is %d", f.Alias, d, cfg.MaxDepth)}
		}
		args := f.ArgumentMap(op.Variables)
		n := 0
		switch f.Name {
		case "order":
			n = 1
		case "orders":
			n = a.DefaultPageSize
			if v, ok := args["first"]; ok && v != nil {
				first, ok := toInt(v)
				if !ok || first < 1 || first > int64(a.MaxPageSize) {
					return badParam("first", "want an integer from 1 to %d, got %v", a.MaxPageSize, v)
				}
				n = int(first)
			}
		case "products":
			ids, _ := args["ids"].([]any)
			if len(ids) > a.maxIDs() {
				return badParam("ids", "at most %d product ids per query, got %d", a.maxIDs(), len(ids))
			}
			n = len(ids)
		}
		cost += n * (1 + relations)
		if cost > cfg.MaxCost {
			return &Error{Code: CodeBadRequest, Message: fmt.Sprintf("the query costs at least %d: more than the most allowed, %d "+
				"(a root field costs the orders or products it may return times 1 + the relations selected under it)", cost, cfg.MaxCost)}
		}
	}
	return problem
}

// toInt is an Int argument's value, from a literal or a variable.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// resolver resolves the schema's queries with the Server's Reader: the
// root field loads its orders, then the relations its selection names, for
// the whole page at once (Reader.Expand).
type resolver struct{ a *Server }

func (r resolver) Query() gql.QueryResolver { return r }

func (r resolver) Order(ctx context.Context, id string) (*gql.Order, error) {
	if err := r.a.checkID("id", "order id", id); err != nil {
		return nil, err
	}
	o, err := r.a.Reader.BareOrder(ctx, id)
	if errors.Is(err, federation.ErrNotFound) {
		return nil, &Error{Code: CodeNotFound, Message: "order " + echo(id) + " not found", Err: err}
	}
	if err != nil {
		return nil, err
	}
	orders := []federation.Order{*o}
	failed := r.a.Reader.Expand(ctx, orders, selection(graphql.GetOperationContext(ctx), graphql.CollectFieldsCtx(ctx, []string{"Order"})))
	return &gql.Order{Order: &orders[0], Failed: failed}, nil
}

func (r resolver) Orders(ctx context.Context, first *int, after *string) (*gql.OrderConnection, error) {
	if page := replayedPage(ctx); page != nil {
		return page, nil
	}
	limit := r.a.DefaultPageSize
	if first != nil {
		if *first < 1 || *first > r.a.MaxPageSize {
			return nil, badParam("first", "want an integer from 1 to %d, got %d", r.a.MaxPageSize, *first)
		}
		limit = *first
	}
	var cursor *federation.Cursor
	if after != nil {
		c, err := r.a.cursor(*after)
		if err != nil {
			return nil, err
		}
		cursor = &c
	}
	orders, next, err := r.a.Reader.Orders(ctx, cursor, limit)
	if err != nil {
		return nil, err
	}
	// The orders' fields: those of node under edges.
	op := graphql.GetOperationContext(ctx)
	var node []graphql.CollectedField
	for _, edges := range graphql.CollectFieldsCtx(ctx, []string{"OrderConnection"}) {
		if edges.Name == "edges" {
			for _, n := range graphql.CollectFields(op, edges.Selections, []string{"OrderEdge"}) {
				if n.Name == "node" {
					node = append(node, graphql.CollectFields(op, n.Selections, []string{"Order"})...)
				}
			}
		}
	}
	failed := r.a.Reader.Expand(ctx, orders, selection(op, node))
	page := &gql.OrderConnection{Edges: make([]gql.OrderEdge, len(orders)), PageInfo: gql.PageInfo{HasNextPage: next != nil}}
	for i := range orders {
		page.Edges[i] = gql.OrderEdge{Node: &gql.Order{Order: &orders[i], Failed: failed}}
	}
	if len(orders) > 0 {
		end := page.Edges[len(orders)-1].Cursor()
		page.PageInfo.EndCursor = &end
	}
	if takePage(ctx, page) { // fastPages writes it
		return &gql.OrderConnection{}, nil
	}
	return page, nil
}

// selection is the relations that the fields of an Order select.
func selection(op *graphql.OperationContext, order []graphql.CollectedField) federation.Selection {
	var sel federation.Selection
	for _, f := range order {
		switch f.Name {
		case "items":
			sel.Items = true
			for _, it := range graphql.CollectFields(op, f.Selections, []string{"OrderItem"}) {
				sel.Products = sel.Products || it.Name == "product"
			}
		case "reservations":
			sel.Reservations = true
		case "payment":
			sel.Payment = true
		}
	}
	return sel
}

func (r resolver) Products(ctx context.Context, ids []string) ([]*federation.Product, error) {
	if len(ids) > r.a.maxIDs() {
		return nil, badParam("ids", "at most %d product ids per query, got %d", r.a.maxIDs(), len(ids))
	}
	for _, id := range ids {
		if err := r.a.checkID("ids", "product id", id); err != nil {
			return nil, err
		}
	}
	rows, err := r.a.Reader.Products(ctx, ids)
	if err != nil {
		// The list is non-null: a null here would null the whole answer,
		// the other root fields with it. Each product is null instead, with
		// the error at its path.
		for i := range ids {
			graphql.AddError(ctx, gqlerror.WrapPath(append(slices.Clone(graphql.GetPath(ctx)), ast.PathIndex(i)), err))
		}
		return make([]*federation.Product, len(ids)), nil
	}
	out := make([]*federation.Product, len(rows))
	for i, row := range rows {
		if row.Found {
			out[i] = &row.Values[0]
		}
	}
	return out, nil
}
