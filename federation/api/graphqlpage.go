package api

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api/gql"
)

// The orders page without gqlgen's per-field execution.
//
// gqlgen resolves every field of every order through a field context, a
// closure and a recover, collects the fields of each object again for each
// element and marshals each list element in a goroutine: about 3,000
// fields and 300 goroutines for a page of 100 orders with their relations,
// several times the CPU of the REST page. The page is fully loaded
// (Reader.Expand) before anything is marshalled, so none of that is
// needed: fastPages collects the selection once per request and writes the
// loaded page's JSON directly, as gqlgen would (same fields in the same
// order, aliases, __typename, null and an error with path and location for
// a relation whose database failed).
//
// gqlgen still parses, validates and checks the limits of the query, and
// resolves the root field (its arguments and errors are gqlgen's). A
// selection the writer does not know (a field added to the schema and not
// here, @defer) or a value gqlgen would refuse (a zero time in a non-null
// field) goes back to gqlgen's execution of the same loaded page: the
// answer is gqlgen's in every case, only its cost differs. TestGraphQL
// compares the two.

// genericGraphQL turns fastPages off (tests compare the two).
var genericGraphQL bool

// fastPage carries the loaded page from the orders resolver to fastPages.
type fastPage struct {
	page   *gql.OrderConnection
	replay bool // gqlgen marshals page: the resolver returns it as is
}

type fastPageKey struct{}

// takePage is how the orders resolver hands its page over: true when
// fastPages writes it (the resolver returns an empty page for gqlgen to
// marshal, discarded).
func takePage(ctx context.Context, page *gql.OrderConnection) bool {
	h, ok := ctx.Value(fastPageKey{}).(*fastPage)
	if !ok || h.replay {
		return false
	}
	h.page = page
	return true
}

// replayedPage is the page loaded by the resolver's first call, when gqlgen
// marshals it after all.
func replayedPage(ctx context.Context) *gql.OrderConnection {
	if h, ok := ctx.Value(fastPageKey{}).(*fastPage); ok && h.replay {
		return h.page
	}
	return nil
}

// fastPages is the root field middleware that writes the orders pages.
func fastPages(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rf := graphql.GetRootFieldContext(ctx)
	if genericGraphQL || rf == nil || rf.Field.Name != "orders" {
		return next(ctx)
	}
	plan, ok := planSelection(graphql.GetOperationContext(ctx), rf.Field.Selections, "OrderConnection")
	if !ok {
		return next(ctx)
	}
	h := &fastPage{}
	ctx = context.WithValue(ctx, fastPageKey{}, h)
	res := next(ctx)
	if h.page == nil { // the resolver failed: gqlgen's answer
		return res
	}
	w := pageWriter{buf: make([]byte, 0, 64<<10), path: []pathElem{{name: rf.Field.Alias}}, ok: true}
	w.connection(plan, h.page)
	if !w.ok {
		h.replay = true
		return next(ctx)
	}
	for _, err := range w.errs {
		graphql.AddError(ctx, err)
	}
	return rawJSON(w.buf)
}

type rawJSON []byte

func (r rawJSON) MarshalGQL(w io.Writer) { _, _ = w.Write(r) }

// planField is a field of a selection, with the selection under it.
type planField struct {
	alias, name string
	pos         *ast.Position
	sub         []planField
}

// planSelection collects the fields of a selection on the type and those
// under them once (gqlgen collects them again for each object): false when
// a field is deferred.
func planSelection(op *graphql.OperationContext, sel ast.SelectionSet, typ string) ([]planField, bool) {
	fields := graphql.CollectFields(op, sel, []string{typ})
	plan := make([]planField, 0, len(fields))
	for _, f := range fields {
		if len(f.Deferrables) > 0 {
			return nil, false
		}
		p := planField{alias: f.Alias, name: f.Name, pos: f.Position}
		if len(f.Selections) > 0 && f.Definition != nil {
			sub, ok := planSelection(op, f.Selections, f.Definition.Type.Name())
			if !ok {
				return nil, false
			}
			p.sub = sub
		}
		plan = append(plan, p)
	}
	return plan, true
}

// pageWriter writes a page's JSON; ok false when gqlgen must answer.
type pageWriter struct {
	buf  []byte
	path []pathElem // to the value being written
	errs []error
	ok   bool
}

// pathElem is a step of a pageWriter's path: a field's alias, or a list
// index when name is "". An ast.Path would box each alias in an interface,
// an allocation per field written (about 3,000 a page); the ast.Path is
// made only for an error.
type pathElem struct {
	name  string
	index int
}

func (w *pageWriter) astPath() ast.Path {
	path := make(ast.Path, len(w.path))
	for i, e := range w.path {
		if e.name == "" {
			path[i] = ast.PathIndex(e.index)
		} else {
			path[i] = ast.PathName(e.name)
		}
	}
	return path
}

// object writes {"alias": value, ...}, each value by field.
func (w *pageWriter) object(plan []planField, typ string, field func(f *planField)) {
	w.buf = append(w.buf, '{')
	for i := range plan {
		f := &plan[i]
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.str(f.alias)
		w.buf = append(w.buf, ':')
		if f.name == "__typename" {
			w.str(typ)
			continue
		}
		w.path = append(w.path, pathElem{name: f.alias})
		field(f)
		w.path = w.path[:len(w.path)-1]
	}
	w.buf = append(w.buf, '}')
}

// list writes [each(0), ..., each(n-1)].
func (w *pageWriter) list(n int, each func(i int)) {
	w.buf = append(w.buf, '[')
	for i := range n {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.path = append(w.path, pathElem{index: i})
		each(i)
		w.path = w.path[:len(w.path)-1]
	}
	w.buf = append(w.buf, ']')
}

// failed writes null for a field whose resolver failed, and its error, as
// gqlgen does: at the field's path and location.
func (w *pageWriter) failed(f *planField, err error) {
	gerr := gqlerror.WrapPath(w.astPath(), err)
	if f.pos != nil && f.pos.Line != 0 {
		gerr.Locations = []gqlerror.Location{{Line: f.pos.Line, Column: f.pos.Column}}
	}
	w.errs = append(w.errs, gerr)
	w.null()
}

func (w *pageWriter) null()       { w.buf = append(w.buf, "null"...) }
func (w *pageWriter) int(n int64) { w.buf = strconv.AppendInt(w.buf, n, 10) }
func (w *pageWriter) unknown()    { w.ok = false; w.null() }
func (w *pageWriter) time(t time.Time) {
	if t.IsZero() { // null in a non-null field: gqlgen's error and null propagation
		w.unknown()
		return
	}
	w.buf = append(w.buf, '"')
	w.buf = t.AppendFormat(w.buf, time.RFC3339Nano)
	w.buf = append(w.buf, '"')
}

// str writes a String or ID as gqlgen's MarshalString does.
func (w *pageWriter) str(s string) {
	const hex = "0123456789ABCDEF"
	w.buf = append(w.buf, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		w.buf = append(w.buf, s[start:i]...)
		switch c {
		case '\t':
			w.buf = append(w.buf, `\t`...)
		case '\r':
			w.buf = append(w.buf, `\r`...)
		case '\n':
			w.buf = append(w.buf, `\n`...)
		case '\\':
			w.buf = append(w.buf, `\\`...)
		case '"':
			w.buf = append(w.buf, `\"`...)
		default:
			w.buf = append(w.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}

func (w *pageWriter) connection(plan []planField, page *gql.OrderConnection) {
	w.object(plan, "OrderConnection", func(f *planField) {
		switch f.name {
		case "edges":
			w.list(len(page.Edges), func(i int) { w.edge(f.sub, &page.Edges[i]) })
		case "pageInfo":
			w.object(f.sub, "PageInfo", func(f *planField) {
				switch {
				case f.name == "hasNextPage":
					w.buf = strconv.AppendBool(w.buf, page.PageInfo.HasNextPage)
				case f.name == "endCursor" && page.PageInfo.EndCursor != nil:
					w.str(*page.PageInfo.EndCursor)
				case f.name == "endCursor":
					w.null()
				default:
					w.unknown()
				}
			})
		default:
			w.unknown()
		}
	})
}

func (w *pageWriter) edge(plan []planField, e *gql.OrderEdge) {
	w.object(plan, "OrderEdge", func(f *planField) {
		switch f.name {
		case "cursor":
			w.str(e.Cursor())
		case "node":
			w.order(f.sub, e.Node)
		default:
			w.unknown()
		}
	})
}

func (w *pageWriter) order(plan []planField, o *gql.Order) {
	w.object(plan, "Order", func(f *planField) {
		switch f.name {
		case "id":
			w.str(o.ID)
		case "customerId":
			w.str(o.CustomerID)
		case "status":
			w.str(o.Status)
		case "totalCents":
			w.int(o.TotalCents)
		case "createdAt":
			w.time(o.CreatedAt)
		case "updatedAt":
			w.time(o.UpdatedAt)
		case "items": // gql.Order.Items: [] when not loaded
			if o.Failed.Items != nil {
				w.failed(f, o.Failed.Items)
				return
			}
			w.list(len(o.Order.Items), func(i int) { w.item(f.sub, &o.Order.Items[i], o.Failed.Products) })
		case "reservations":
			switch rs := o.Order.Reservations; {
			case o.Failed.Reservations != nil:
				w.failed(f, o.Failed.Reservations)
			case rs == nil:
				w.null()
			default:
				w.list(len(rs), func(i int) { w.reservation(f.sub, &rs[i]) })
			}
		case "payment":
			switch p := o.Order.Payment; {
			case o.Failed.Payment != nil:
				w.failed(f, o.Failed.Payment)
			case p == nil:
				w.null()
			default:
				w.object(f.sub, "Payment", func(f *planField) {
					switch f.name {
					case "status":
						w.str(p.Status)
					case "amountCents":
						w.int(p.AmountCents)
					default:
						w.unknown()
					}
				})
			}
		default:
			w.unknown()
		}
	})
}

func (w *pageWriter) item(plan []planField, it *federation.Item, productsFailed error) {
	w.object(plan, "OrderItem", func(f *planField) {
		switch f.name {
		case "productId":
			w.str(it.ProductID)
		case "quantity":
			w.int(int64(it.Quantity))
		case "priceCents":
			w.int(it.PriceCents)
		case "product":
			switch p := it.Product; {
			case productsFailed != nil:
				w.failed(f, productsFailed)
			case p == nil:
				w.null()
			default:
				w.product(f.sub, p)
			}
		default:
			w.unknown()
		}
	})
}

func (w *pageWriter) product(plan []planField, p *federation.Product) {
	w.object(plan, "Product", func(f *planField) {
		switch f.name {
		case "id":
			w.str(p.ID)
		case "sku":
			w.str(p.SKU)
		case "name":
			w.str(p.Name)
		case "priceCents":
			w.int(p.PriceCents)
		case "stock":
			w.int(int64(p.Stock))
		default:
			w.unknown()
		}
	})
}

func (w *pageWriter) reservation(plan []planField, r *federation.Reservation) {
	w.object(plan, "Reservation", func(f *planField) {
		switch f.name {
		case "productId":
			w.str(r.ProductID)
		case "quantity":
			w.int(int64(r.Quantity))
		case "status":
			w.str(r.Status)
		default:
			w.unknown()
		}
	})
}
