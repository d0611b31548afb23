package federation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/config"
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
	orders, inventory, payments *DB
	timeouts                    Timeouts
	batch                       int
	relations                   map[[2]string]bool
}

// NewReader reads from the registry's orders, inventory and payments
// databases with the federation configuration.
func NewReader(r *Registry, cfg config.Federation) (*Reader, error) {
	rd := &Reader{
		timeouts:  Timeouts{Default: cfg.DefaultTimeout, PerDatabase: cfg.DatabaseTimeouts},
		batch:     cfg.BatchSize,
		relations: map[[2]string]bool{},
	}
	var errs []error
	for name, dst := range map[string]**DB{"orders": &rd.orders, "inventory": &rd.inventory, "payments": &rd.payments} {
		db, err := r.DB(name)
		errs = append(errs, err)
		*dst = db
	}
	for _, p := range relation.Check(cfg.Relations) {
		errs = append(errs, fmt.Errorf("federation.relations.%s: %w", p.Key, p.Err))
	}
	for _, rel := range cfg.Relations {
		rd.relations[[2]string{rel.From, rel.To}] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rd, nil
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

// ParseCursor decodes an after= parameter.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errors.New("not a cursor from a previous page's next")
	}
	at, id, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if !ok || terr != nil || id == "" {
		return Cursor{}, errors.New("not a cursor from a previous page's next")
	}
	return Cursor{CreatedAt: t, ID: id}, nil
}

const orderColumns = `id, customer_id, status, total_cents, coalesce(reason, ''), created_at, updated_at`

func scanOrder(row pgx.CollectableRow) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.CustomerID, &o.Status, &o.TotalCents, &o.Reason, &o.CreatedAt, &o.UpdatedAt)
	return o, err
}

// Page returns up to limit orders after the cursor (nil: from the start),
// oldest first, federated, and the cursor of the next page (nil at the end).
func (r *Reader) Page(ctx context.Context, after *Cursor, limit int) ([]Order, *Cursor, error) {
	var orders []Order
	err := r.orders.Read(ctx, r.timeouts, func(ctx context.Context, q Querier) error {
		var rows pgx.Rows
		var err error
		if after == nil {
			rows, err = q.Query(ctx, `SELECT `+orderColumns+` FROM tb_order ORDER BY created_at, id LIMIT $1`, limit+1)
		} else {
			rows, err = q.Query(ctx, `SELECT `+orderColumns+` FROM tb_order
				WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, after.CreatedAt, after.ID, limit+1)
		}
		if err != nil {
			return err
		}
		orders, err = pgx.CollectRows(rows, scanOrder)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load orders: %w", err)
	}
	var next *Cursor
	if len(orders) > limit {
		orders = orders[:limit]
		last := orders[limit-1]
		next = &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if err := r.expand(ctx, orders); err != nil {
		return nil, nil, err
	}
	return orders, next, nil
}

// Order returns one order, federated; ErrNotFound when there is none.
func (r *Reader) Order(ctx context.Context, id string) (*Order, error) {
	l := &Loader[string, Order]{DB: r.orders, Timeouts: r.timeouts, BatchSize: r.batch,
		Query: `SELECT ` + orderColumns + ` FROM tb_order WHERE id = ANY($1)`,
		Scan: func(row pgx.CollectableRow) (string, Order, error) {
			o, err := scanOrder(row)
			return o.ID, o, err
		}}
	rows, err := l.Load(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if !rows[0].Found {
		return nil, fmt.Errorf("order %s: %w", id, ErrNotFound)
	}
	orders := rows[0].Values[:1]
	if err := r.expand(ctx, orders); err != nil {
		return nil, err
	}
	return &orders[0], nil
}

// expand loads the declared relations of the orders, level by level, each
// level's loads on different databases at once.
func (r *Reader) expand(ctx context.Context, orders []Order) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
		orders[i].Items, orders[i].Reservations = []Item{}, []Reservation{}
	}
	var loads []func(context.Context) error
	if r.relations[[2]string{"order", "item"}] {
		loads = append(loads, func(ctx context.Context) error {
			rows, err := r.itemLoader().Load(ctx, ids)
			for i, row := range rows {
				orders[i].Items = append(orders[i].Items, row.Values...)
			}
			return err
		})
	}
	if r.relations[[2]string{"order", "reservation"}] {
		loads = append(loads, func(ctx context.Context) error {
			rows, err := r.reservationLoader().Load(ctx, ids)
			for i, row := range rows {
				orders[i].Reservations = append(orders[i].Reservations, row.Values...)
			}
			return err
		})
	}
	if r.relations[[2]string{"order", "payment"}] {
		loads = append(loads, func(ctx context.Context) error {
			rows, err := r.paymentLoader().Load(ctx, ids)
			for i, row := range rows {
				if row.Found {
					orders[i].Payment = &row.Values[0]
				}
			}
			return err
		})
	}
	if err := Parallel(ctx, loads...); err != nil {
		return err
	}
	if !r.relations[[2]string{"item", "product"}] {
		return nil
	}
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
	byID := make(map[string]*Product, len(products))
	for _, p := range products {
		if p.Found {
			byID[p.Key] = &p.Values[0]
		}
	}
	for i := range orders {
		for j := range orders[i].Items {
			orders[i].Items[j].Product = byID[orders[i].Items[j].ProductID]
		}
	}
	return nil
}

func (r *Reader) itemLoader() *Loader[string, Item] {
	return &Loader[string, Item]{DB: r.orders, Timeouts: r.timeouts, BatchSize: r.batch,
		Query: `SELECT order_id, product_id, sku, quantity, price_cents FROM tb_order_item
		        WHERE order_id = ANY($1) ORDER BY order_id, product_id`,
		Scan: func(row pgx.CollectableRow) (string, Item, error) {
			var k string
			var it Item
			err := row.Scan(&k, &it.ProductID, &it.SKU, &it.Quantity, &it.PriceCents)
			return k, it, err
		}}
}

func (r *Reader) reservationLoader() *Loader[string, Reservation] {
	return &Loader[string, Reservation]{DB: r.inventory, Timeouts: r.timeouts, BatchSize: r.batch,
		Query: `SELECT order_id, product_id, quantity, status FROM tb_reservation
		        WHERE order_id = ANY($1) ORDER BY order_id, product_id`,
		Scan: func(row pgx.CollectableRow) (string, Reservation, error) {
			var k string
			var v Reservation
			err := row.Scan(&k, &v.ProductID, &v.Quantity, &v.Status)
			return k, v, err
		}}
}

func (r *Reader) paymentLoader() *Loader[string, Payment] {
	return &Loader[string, Payment]{DB: r.payments, Timeouts: r.timeouts, BatchSize: r.batch,
		Query: `SELECT order_id, status, amount_cents FROM tb_transaction WHERE order_id = ANY($1)`,
		Scan: func(row pgx.CollectableRow) (string, Payment, error) {
			var k string
			var v Payment
			err := row.Scan(&k, &v.Status, &v.AmountCents)
			return k, v, err
		}}
}

// Products loads products by id, in the order of ids.
func (r *Reader) Products(ctx context.Context, ids []string) ([]Row[string, Product], error) {
	return r.productLoader("id").Load(ctx, ids)
}

// ProductsBySKU loads products by SKU, in the order of skus.
func (r *Reader) ProductsBySKU(ctx context.Context, skus []string) ([]Row[string, Product], error) {
	return r.productLoader("sku").Load(ctx, skus)
}

func (r *Reader) productLoader(key string) *Loader[string, Product] {
	return &Loader[string, Product]{DB: r.inventory, Timeouts: r.timeouts, BatchSize: r.batch,
		Query: `SELECT ` + key + `, id, sku, name, price_cents, stock FROM tb_product WHERE ` + key + ` = ANY($1)`,
		Scan: func(row pgx.CollectableRow) (string, Product, error) {
			var k string
			var p Product
			err := row.Scan(&k, &p.ID, &p.SKU, &p.Name, &p.PriceCents, &p.Stock)
			return k, p, err
		}}
}

// Customers reports which customer ids have an account (payments).
func (r *Reader) Customers(ctx context.Context, ids []string) ([]Row[string, string], error) {
	l := &Loader[string, string]{DB: r.payments, Timeouts: r.timeouts, BatchSize: r.batch,
		Query: `SELECT customer_id FROM tb_account WHERE customer_id = ANY($1)`,
		Scan: func(row pgx.CollectableRow) (string, string, error) {
			var k string
			err := row.Scan(&k)
			return k, k, err
		}}
	return l.Load(ctx, ids)
}
