package events

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// PartitionPrefix starts the subject of every partition copy of an order
// event: fedsaga.partition.<partition>.<order id>.<confirmed|cancelled>.
const PartitionPrefix = "fedsaga.partition."

// Partition is the partition of an order among n partitions: FNV-1a (32
// bits) of the order id, modulo n. It is the hash of the NATS subject
// mapping function partition(n, 3) applied to the order id token of
// Subject, so the same orders fall in the same partitions whether fedsaga
// or a NATS 2.10+ server computes it. n is from 1 to math.MaxInt32
// (config.MaxPartitions is far below); Partition panics otherwise.
func Partition(orderID string, n int) int {
	if n < 1 || n > math.MaxInt32 {
		panic(fmt.Sprintf("events.Partition: %d partitions, want 1 to %d", n, math.MaxInt32))
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(orderID))
	return int(h.Sum32() % uint32(n))
}

// PartitionSubject is the subject of the partition copy of an order event
// among n partitions.
func PartitionSubject(orderID, eventType string, n int) string {
	return PartitionFilter(Partition(orderID, n)) + orderID + "." + strings.TrimPrefix(eventType, "order.")
}

// PartitionFilter is the subject prefix of partition p, for a consumer's
// filter (add ">" or "*.<type>").
func PartitionFilter(p int) string {
	return PartitionPrefix + strconv.Itoa(p) + "."
}

// PartitionSubjectOf turns an event's subject (Subject) into the subject
// of its partition copy among n partitions.
func PartitionSubjectOf(subject string, n int) (string, error) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	orderID, kind, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || orderID == "" || kind == "" || strings.Contains(kind, ".") {
		return "", fmt.Errorf("subject %q is not an order event subject (%s<order id>.<confirmed|cancelled>)", subject, SubjectPrefix)
	}
	return PartitionFilter(Partition(orderID, n)) + rest, nil
}
