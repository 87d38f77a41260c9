namespace CocoLaunch.Memory;

public sealed partial class IntervalMap<TValue>
{
    private sealed class Node(Node? left, ulong key, TValue value, Node? right)
    {
        public Node? Left { get; } = left;

        public ulong Key { get; } = key;

        public TValue Value { get; } = value;

        public Node? Right { get; } = right;

        public int Height { get; } = 1 + Math.Max(HeightOf(left), HeightOf(right));

        public int Size { get; } = 1 + SizeOf(left) + SizeOf(right);
    }

    private static int HeightOf(Node? n) => n?.Height ?? 0;

    private static int SizeOf(Node? n) => n?.Size ?? 0;

    /// <summary>
    /// One update's path copying: split and join of AVL trees (Blelloch, Ferizovic and Sun, "Just Join for
    /// Parallel Ordered Sets"), each O(log n), never touching a node off the paths they walk.
    /// </summary>
    private sealed class Edit
    {
        public long Allocated { get; private set; }

        /// <summary>Keys below <paramref name="key"/>, and the rest.</summary>
        public (Node? Below, Node? AtOrAbove) Split(Node? t, ulong key)
        {
            if (t is null)
            {
                return (null, null);
            }

            if (key <= t.Key)
            {
                var (below, rest) = Split(t.Left, key);
                return (below, Join(rest, t.Key, t.Value, t.Right));
            }

            var (lower, upper) = Split(t.Right, key);
            return (Join(t.Left, t.Key, t.Value, lower), upper);
        }

        /// <summary>The tree of <paramref name="l"/>, then (key, value), then <paramref name="r"/>: every key of l is smaller than key, every key of r larger.</summary>
        public Node Join(Node? l, ulong key, TValue value, Node? r)
        {
            if (HeightOf(l) > HeightOf(r) + 1)
            {
                return Balance(l!.Left, l.Key, l.Value, Join(l.Right, key, value, r));
            }

            if (HeightOf(r) > HeightOf(l) + 1)
            {
                return Balance(Join(l, key, value, r!.Left), r.Key, r.Value, r.Right);
            }

            return Make(l, key, value, r);
        }

        /// <summary>The tree of <paramref name="l"/> then <paramref name="r"/>.</summary>
        public Node? Join2(Node? l, Node? r)
        {
            if (l is null)
            {
                return r;
            }

            var last = Last(l);
            return Join(RemoveLast(l), last.Key, last.Value, r);
        }

        public Node First(Node t) => t.Left is null ? t : First(t.Left);

        public Node Last(Node t) => t.Right is null ? t : Last(t.Right);

        public Node? RemoveFirst(Node t) => t.Left is null ? t.Right : Balance(RemoveFirst(t.Left), t.Key, t.Value, t.Right);

        private Node? RemoveLast(Node t) => t.Right is null ? t.Left : Balance(t.Left, t.Key, t.Value, RemoveLast(t.Right));

        /// <summary>A node over subtrees whose heights differ by at most 2, rotated back to within 1.</summary>
        private Node Balance(Node? l, ulong key, TValue value, Node? r)
        {
            if (HeightOf(l) > HeightOf(r) + 1)
            {
                if (HeightOf(l!.Left) >= HeightOf(l.Right))
                {
                    return Make(l.Left, l.Key, l.Value, Make(l.Right, key, value, r));
                }

                var lr = l.Right!;
                return Make(Make(l.Left, l.Key, l.Value, lr.Left), lr.Key, lr.Value, Make(lr.Right, key, value, r));
            }

            if (HeightOf(r) > HeightOf(l) + 1)
            {
                if (HeightOf(r!.Right) >= HeightOf(r.Left))
                {
                    return Make(Make(l, key, value, r.Left), r.Key, r.Value, r.Right);
                }

                var rl = r.Left!;
                return Make(Make(l, key, value, rl.Left), rl.Key, rl.Value, Make(rl.Right, r.Key, r.Value, r.Right));
            }

            return Make(l, key, value, r);
        }

        private Node Make(Node? l, ulong key, TValue value, Node? r)
        {
            Allocated++;
            return new Node(l, key, value, r);
        }
    }
}
