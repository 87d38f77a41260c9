using System.Numerics;

namespace CocoLaunch.Memory;

/// <summary>
/// One bit per 4 KiB page over a 2^40-page space, in lazily created 32768-page chunks found through a fixed
/// directory — no locks and no hashing, so vCPUs faulting in different ranges never contend.
/// </summary>
internal sealed class AllocationBitmap
{
    private const int ChunkShift = 15; // 32768 pages (128 MiB of guest memory) per 4 KiB chunk
    private const int ChunkWords = (1 << ChunkShift) / 64;
    private const int LeafShift = 12; // 4096 chunks per directory leaf
    private const int RootEntries = 1 << (40 - ChunkShift - LeafShift);

    private readonly ulong[]?[]?[] root = new ulong[]?[]?[RootEntries];

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

    public void SetRange(ulong first, ulong count) => Update(first, count, set: true);

    public void ClearRange(ulong first, ulong count) => Update(first, count, set: false);

    private void Update(ulong first, ulong count, bool set)
    {
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
                if (set)
                {
                    Interlocked.Or(ref word, mask);
                }
                else
                {
                    Interlocked.And(ref word, ~mask);
                }

                p += (ulong)n;
            }
        }
    }

    private ulong[]? Chunk(ulong page, bool create)
    {
        ulong chunkIndex = page >> ChunkShift;
        ref var leaf = ref root[chunkIndex >> LeafShift];
        if (leaf is null)
        {
            if (!create)
            {
                return null;
            }

            Interlocked.CompareExchange(ref leaf, new ulong[]?[1 << LeafShift], null);
        }

        ref var chunk = ref leaf![chunkIndex & ((1 << LeafShift) - 1)];
        if (chunk is null && create)
        {
            Interlocked.CompareExchange(ref chunk, new ulong[ChunkWords], null);
        }

        return chunk;
    }
}
