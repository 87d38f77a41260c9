using System.Numerics;

namespace CocoLaunch.Memory;

/// <summary>
/// One bit per 4 KiB page over a 2^40-page space, in lazily created 32768-page chunks found through a two-level
/// directory — no hashing, and no locks on the way to an existing chunk, so vCPUs faulting in different ranges
/// never contend. The directory grows with the highest page used: a store of one page (a 4 KiB memslot) costs a
/// few hundred bytes, not a directory sized for 2^40 pages.
/// </summary>
internal sealed class AllocationBitmap
{
    private const int ChunkShift = 15; // 32768 pages (128 MiB of guest memory) per 4 KiB chunk
    private const int ChunkWords = (1 << ChunkShift) / 64;
    private const int LeafShift = 6; // 64 chunks (8 GiB of guest memory) per directory leaf
    private const int RootEntries = 1 << (40 - ChunkShift - LeafShift);

    private readonly object growLock = new();

    // Replaced (never mutated in place) when it grows; leaves are created only under growLock, so none is lost to a copy.
    private volatile ulong[]?[]?[] root = [];

    public long Count
    {
        get
        {
            long n = 0;
            foreach (var leaf in root)
            {
                foreach (var chunk in leaf ?? [])
                {
                    foreach (ulong word in chunk ?? [])
                    {
                        n += BitOperations.PopCount(word);
                    }
                }
            }

            return n;
        }
    }

    public bool Contains(ulong page) =>
        Chunk(page, create: false) is { } chunk && (Volatile.Read(ref chunk[(page >> 6) & (ChunkWords - 1)]) & (1UL << (int)(page & 63))) != 0;

    /// <summary>Sets the pages' bits; returns how many were clear before.</summary>
    public ulong SetRange(ulong first, ulong count) => Update(first, count, set: true);

    /// <summary>Clears the pages' bits; returns how many were set before.</summary>
    public ulong ClearRange(ulong first, ulong count) => Update(first, count, set: false);

    /// <summary>How many of the pages [first, first + count) are set.</summary>
    public ulong CountRange(ulong first, ulong count)
    {
        ulong n = 0;
        for (ulong p = first; p < first + count; p++)
        {
            n += Contains(p) ? 1UL : 0;
        }

        return n;
    }

    private ulong Update(ulong first, ulong count, bool set)
    {
        ulong changed = 0;
        ulong end = first + count;
        for (ulong p = first; p < end;)
        {
            ulong chunkEnd = Math.Min(end, ((p >> ChunkShift) + 1) << ChunkShift);
            var chunk = Chunk(p, create: set);
            if (chunk is null)
            {
                p = chunkEnd;
                continue;
            }

            while (p < chunkEnd)
            {
                int bit = (int)(p & 63);
                int n = (int)Math.Min((ulong)(64 - bit), chunkEnd - p);
                ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << bit;
                ref ulong word = ref chunk[(p >> 6) & (ChunkWords - 1)];
                ulong before = set ? Interlocked.Or(ref word, mask) : Interlocked.And(ref word, ~mask);
                changed += (ulong)BitOperations.PopCount((set ? ~before : before) & mask);

                p += (ulong)n;
            }
        }

        return changed;
    }

    private ulong[]? Chunk(ulong page, bool create)
    {
        ulong chunkIndex = page >> ChunkShift;
        ulong leafIndex = chunkIndex >> LeafShift;
        var directory = root;
        var leaf = leafIndex < (ulong)directory.Length ? Volatile.Read(ref directory[leafIndex]) : null;
        if (leaf is null)
        {
            if (!create)
            {
                return null;
            }

            leaf = CreateLeaf(leafIndex);
        }

        ref var chunk = ref leaf[chunkIndex & ((1 << LeafShift) - 1)];
        if (chunk is null && create)
        {
            Interlocked.CompareExchange(ref chunk, new ulong[ChunkWords], null);
        }

        return chunk;
    }

    private ulong[]?[] CreateLeaf(ulong leafIndex)
    {
        if (leafIndex >= RootEntries)
        {
            throw new ArgumentOutOfRangeException(nameof(leafIndex), leafIndex, "page index beyond the 2^40-page space");
        }

        lock (growLock)
        {
            var directory = root;
            if (leafIndex >= (ulong)directory.Length)
            {
                var grown = new ulong[]?[]?[Math.Min(RootEntries, Math.Max((int)leafIndex + 1, directory.Length * 2))];
                directory.CopyTo(grown, 0);
                directory = grown;
            }

            if (directory[leafIndex] is null)
            {
                Volatile.Write(ref directory[leafIndex], new ulong[]?[1 << LeafShift]);
            }

            root = directory; // publishes the leaf (and a grown directory) after both are complete
            return directory[leafIndex]!;
        }
    }
}
