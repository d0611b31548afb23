package consumer

import "fmt"

// PartitionDurable is the durable name of partition p of the partitioned
// consumer durable.
func PartitionDurable(durable string, p int) string {
	return fmt.Sprintf("%s-p%d", durable, p)
}

// partitions are the partitions o consumes: Options.Partitions, or every
// one of PartitionCount.
func (o Options) partitions() []int {
	if len(o.Partitions) > 0 {
		return o.Partitions
	}
	all := make([]int, o.PartitionCount)
	for i := range all {
		all[i] = i
	}
	return all
}

// checkPartitions refuses partitions outside 0..PartitionCount-1, twice
// named, or named without PartitionCount.
func (o Options) checkPartitions() error {
	if len(o.Partitions) > 0 && o.PartitionCount <= 0 {
		return fmt.Errorf("consumer %s: Partitions needs a partitioned consumer (PartitionCount, [nats.partitions] count and partitioned = true)", o.Durable)
	}
	seen := map[int]bool{}
	for _, p := range o.Partitions {
		if p < 0 || p >= o.PartitionCount || seen[p] {
			return fmt.Errorf("consumer %s: partition %d: want each of 0 to %d at most once", o.Durable, p, o.PartitionCount-1)
		}
		seen[p] = true
	}
	return nil
}
