package federation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/federation/relation"
)

// ErrNotFound is an id without a row.
var ErrNotFound = errors.New("not found")

// Order is an order federated from the three databases: the order and its
// items (orders), each item's product and the reservations (inventory), the
// payment (payments). Relations that are not declared stay empty.
type Order struct {
	ID           string        `json:"id"`
	CustomerID   string        `json:"customer_id"`
	Status       string        `json:"status"`
	TotalCents   int64         `json:"total_cents"`
	Reason       string        `json:"reason,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Items        []Item        `json:"items"`
	Reservations []Reservation `json:"reservations"`
	Payment      *Payment      `json:"payment"`
}

// Item is an order line with its product as the inventory has it now.
type Item struct {
	ProductID  string   `json:"product_id"`
	SKU        string   `json:"sku"`
	Quantity   int      `json:"quantity"`
	PriceCents int64    `json:"price_cents"` // the price when ordered
	Product    *Product `json:"product"`     // nil when the product is gone
}

// Product is a product of the inventory database.
type Product struct {
	ID         string `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int    `json:"stock"`
}

// Reservation is an order's reservation of one product.
type Reservation struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
	Status    string `json:"status"` // reserved or released
}

// Payment is an order's payment.
type Payment struct {
	Status      string `json:"status"` // charged or refunded
	AmountCents int64  `json:"amount_cents"`
}

// Reader serves federated reads of orders and products. A page of orders
// costs one query per declared relation level and database, whatever the
// page size (up to batch_size keys per query).
type Reader struct {
	relations map[relation.Relation]bool

	order           *Loader[string, Order]
	items           *Loader[string, Item]
	reservations    *Loader[string, Reservation]
	payments        *Loader[string, Payment]
	products, bySKU *Loader[string, Product]
	customers       *Loader[string, string]
}

// NewReader reads from the registry's orders, inventory and payments
// databases with the federation configuration.
func NewReader(r *pg.Registry, cfg config.Federation) (*Reader, error) {
	var errs []error
	dbs := map[string]*pg.DB{}
	for _, name := range config.RequiredDatabases {
		db, err := r.DB(name)
		errs = append(errs, err)
		dbs[name] = db
	}
	for _, p := range relation.Check(cfg.Relations) {
		errs = append(errs, fmt.Errorf("%s: %w", p.Key, p.Err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	orders, inventory, payments := dbs[config.OrdersDB], dbs[config.InventoryDB], dbs[config.PaymentsDB]
	product := func(key string) *Loader[string, Product] {
		return loader(inventory, cfg, `SELECT `+key+`, id, sku, name, price_cents, stock FROM tb_product WHERE `+key+` = ANY($1)`,
			func(p *Product) []any { return []any{&p.ID, &p.SKU, &p.Name, &p.PriceCents, &p.Stock} })
	}
	rd := &Reader{relations: map[relation.Relation]bool{},
		order: loader(orders, cfg, `SELECT id, `+orderColumns+` FROM tb_order WHERE id = ANY($1)`, orderFields),
		items: loader(orders, cfg, `SELECT order_id, product_id, sku, quantity, price_cents FROM tb_order_item
			        WHERE order_id = ANY($1) ORDER BY order_id, product_id`,
			func(it *Item) []any { return []any{&it.ProductID, &it.SKU, &it.Quantity, &it.PriceCents} }),
		reservations: loader(inventory, cfg, `SELECT order_id, product_id, quantity, status FROM tb_reservation
			        WHERE order_id = ANY($1) ORDER BY order_id, product_id`,
			func(r *Reservation) []any { return []any{&r.ProductID, &r.Quantity, &r.Status} }),
		payments: loader(payments, cfg, `SELECT order_id, status, amount_cents FROM tb_transaction WHERE order_id = ANY($1)`,
			func(p *Payment) []any { return []any{&p.Status, &p.AmountCents} }),
		products: product("id"),
		bySKU:    product("sku"),
		customers: loader(payments, cfg, `SELECT customer_id, customer_id FROM tb_account WHERE customer_id = ANY($1)`,
			func(id *string) []any { return []any{id} }),
	}
	for _, rel := range cfg.Relations {
		rd.relations[rel] = true
	}
	return rd, nil
}

// loader loads from db by string keys, with the federation configuration.
func loader[V any](db *pg.DB, cfg config.Federation, query string, scan func(*V) []any) *Loader[string, V] {
	return &Loader[string, V]{DB: db, Timeouts: Timeouts{Default: cfg.DefaultTimeout, PerDatabase: cfg.DatabaseTimeouts},
		BatchSize: cfg.BatchSize, Query: query, Scan: scan}
}

// Cursor is a position in the order list (created_at, id).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// String encodes the cursor for the after= parameter.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

// ErrBadCursor is a string that is not a Cursor's String.
var ErrBadCursor = errors.New("not a cursor from a previous page's next")

// ParseCursor decodes an after= parameter. Anything but a Cursor's String
// with an id of valid UTF-8 and no NUL byte (which PostgreSQL cannot take
// as text) is ErrBadCursor.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	at, id, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if err != nil || !ok || terr != nil || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{CreatedAt: t, ID: id}, nil
}

const orderColumns = `id, customer_id, status, total_cents, coalesce(reason, ''), created_at, updated_at`

func orderFields(o *Order) []any {
	return []any{&o.ID, &o.CustomerID, &o.Status, &o.TotalCents, &o.Reason, &o.CreatedAt, &o.UpdatedAt}
}

// Page returns up to limit orders after the cursor (nil: from the start),
// oldest first, with every declared relation, and the cursor of the next
// page (nil at the end).
func (r *Reader) Page(ctx context.Context, after *Cursor, limit int) ([]Order, *Cursor, error) {
	orders, next, err := r.Orders(ctx, after, limit)
	if err != nil {
		return nil, nil, err
	}
	if err := r.Expand(ctx, orders, All).Err(); err != nil {
		return nil, nil, err
	}
	return orders, next, nil
}

// Orders is Page without the relations: one query on the orders database.
func (r *Reader) Orders(ctx context.Context, after *Cursor, limit int) ([]Order, *Cursor, error) {
	sql, args := `SELECT `+orderColumns+` FROM tb_order ORDER BY created_at, id LIMIT $1`, []any{limit + 1}
	if after != nil {
		sql = `SELECT ` + orderColumns + ` FROM tb_order WHERE (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $1`
		args = append(args, after.CreatedAt, after.ID)
	}
	var orders []Order
	err := r.order.Timeouts.read(ctx, r.order.DB, func(ctx context.Context, c *pgxpool.Conn) (err error) {
		rows, _ := c.Query(ctx, sql, args...) // CollectRows returns the query's error
		orders, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (o Order, err error) {
			err = row.Scan(orderFields(&o)...)
			return o, err
		})
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load orders: %w", err)
	}
	var next *Cursor
	if len(orders) > limit {
		orders = orders[:limit]
		next = &Cursor{CreatedAt: orders[limit-1].CreatedAt, ID: orders[limit-1].ID}
	}
	return orders, next, nil
}

// Order returns one order with every declared relation; ErrNotFound when
// there is none.
func (r *Reader) Order(ctx context.Context, id string) (*Order, error) {
	o, err := r.BareOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	orders := []Order{*o}
	if err := r.Expand(ctx, orders, All).Err(); err != nil {
		return nil, err
	}
	return &orders[0], nil
}

// BareOrder is Order without the relations: one query on the orders
// database.
func (r *Reader) BareOrder(ctx context.Context, id string) (*Order, error) {
	rows, err := r.order.Load(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if !rows[0].Found {
		return nil, fmt.Errorf("order %s: %w", id, ErrNotFound)
	}
	return &rows[0].Values[0], nil
}

// Selection is the relations of orders that Expand loads, of those
// declared in [federation.relations].
type Selection struct {
	Items, Products, Reservations, Payment bool // Products: the items' products, which needs Items
}

// All selects every relation.
var All = Selection{Items: true, Products: true, Reservations: true, Payment: true}

// RelationErrors are the loads of Expand that failed, by relation; nil
// for those that succeeded or were not loaded.
type RelationErrors struct {
	Items, Products, Reservations, Payment error
}

// Err joins the errors, nil when there is none.
func (e *RelationErrors) Err() error {
	return errors.Join(e.Items, e.Products, e.Reservations, e.Payment)
}

// Expand loads the selected and declared relations of the orders: one
// query per relation for the whole slice (up to batch_size keys), the
// loads on different databases at once, the products as soon as the items
// are there. A failed load leaves its relation empty and its error in the
// result; the others complete. The items and reservations of every order
// are never nil.
func (r *Reader) Expand(ctx context.Context, orders []Order, sel Selection) *RelationErrors {
	failed := &RelationErrors{}
	if len(orders) == 0 {
		return failed
	}
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
		orders[i].Items, orders[i].Reservations = []Item{}, []Reservation{}
	}
	var wg sync.WaitGroup
	if sel.Items && r.relations[relation.Relation{From: "order", To: "item"}] {
		wg.Go(func() {
			failed.Items = follow(ctx, r.items, ids, func(i int, vs []Item) { orders[i].Items = append(orders[i].Items, vs...) })
			if failed.Items == nil && sel.Products && r.relations[relation.Relation{From: "item", To: "product"}] {
				failed.Products = r.itemProducts(ctx, orders)
			}
		})
	}
	if sel.Reservations && r.relations[relation.Relation{From: "order", To: "reservation"}] {
		wg.Go(func() {
			failed.Reservations = follow(ctx, r.reservations, ids, func(i int, vs []Reservation) {
				orders[i].Reservations = append(orders[i].Reservations, vs...)
			})
		})
	}
	if sel.Payment && r.relations[relation.Relation{From: "order", To: "payment"}] {
		wg.Go(func() {
			failed.Payment = follow(ctx, r.payments, ids, func(i int, vs []Payment) {
				if vs != nil {
					orders[i].Payment = &vs[0]
				}
			})
		})
	}
	wg.Wait()
	return failed
}

// itemProducts loads the products of the orders' items into them.
func (r *Reader) itemProducts(ctx context.Context, orders []Order) error {
	var productIDs []string
	for _, o := range orders {
		for _, it := range o.Items {
			productIDs = append(productIDs, it.ProductID)
		}
	}
	products, err := r.Products(ctx, productIDs)
	if err != nil {
		return err
	}
	for i := range orders { // products are in the order of productIDs
		for j := range orders[i].Items {
			if p := products[0]; p.Found {
				orders[i].Items[j].Product = &p.Values[0]
			}
			products = products[1:]
		}
	}
	return nil
}

// follow loads the rows of the order ids with l; set gets each order's
// rows.
func follow[V any](ctx context.Context, l *Loader[string, V], ids []string, set func(i int, vs []V)) error {
	rows, err := l.Load(ctx, ids)
	for i, row := range rows {
		set(i, row.Values)
	}
	return err
}

// Products loads products by id, in the order of ids.
func (r *Reader) Products(ctx context.Context, ids []string) ([]Row[string, Product], error) {
	return r.products.Load(ctx, ids)
}

// ProductsBySKU loads products by SKU, in the order of skus.
func (r *Reader) ProductsBySKU(ctx context.Context, skus []string) ([]Row[string, Product], error) {
	return r.bySKU.Load(ctx, skus)
}

// Customers reports which customer ids have an account (payments).
func (r *Reader) Customers(ctx context.Context, ids []string) ([]Row[string, string], error) {
	return r.customers.Load(ctx, ids)
}
