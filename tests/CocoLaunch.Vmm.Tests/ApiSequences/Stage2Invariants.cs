using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Kvm.Mmu;
using static CocoLaunch.Vmm.Tests.ApiSequences.SequenceVm;

namespace CocoLaunch.Vmm.Tests.ApiSequences;

/// <summary>
/// What must hold whenever no ioctl is in flight: the stage-2 statistics equal the leaves present; no GFN is mapped
/// both private and shared; every leaf's view matches the GFN's attribute (no private page reachable through a
/// shared leaf, no private leaf on a shared GFN); every leaf lies inside one memslot, private leaves only where a
/// guest_memfd backs the slot; TDX and SNP private leaves are 4K; memslots and guest_memfd bindings never overlap.
/// </summary>
internal static class Stage2Invariants
{
    public static string? Check(SequenceVm w)
    {
        var vm = w.Vm;
        var ranges = vm.Mmu.Dump();
        var stats = vm.Mmu.Stats;
        long[] counted = new long[3];
        foreach (var range in ranges)
        {
            counted[range.Level switch { PageLevel.Size4K => 0, PageLevel.Size2M => 1, _ => 2 }] += range.Leaves;
        }

        if (stats.Pages4K != counted[0] || stats.Pages2M != counted[1] || stats.Pages1G != counted[2])
        {
            return $"stage-2 stats (4K {stats.Pages4K}, 2M {stats.Pages2M}, 1G {stats.Pages1G}) differ from the leaves present (4K {counted[0]}, 2M {counted[1]}, 1G {counted[2]})";
        }

        var slots = vm.Memslots;
        for (int i = 0; i < slots.Count; i++)
        {
            for (int j = i + 1; j < slots.Count; j++)
            {
                var (a, b) = (slots[i], slots[j]);
                if (a.AddressSpace == b.AddressSpace && a.BaseGfn < b.EndGfn && b.BaseGfn < a.EndGfn)
                {
                    return $"memslots overlap: {a} and {b}";
                }

                if (a.GuestMemfd is { } fa && ReferenceEquals(fa, b.GuestMemfd)
                    && a.GuestMemfdPgoff < b.GuestMemfdPgoff + b.NPages && b.GuestMemfdPgoff < a.GuestMemfdPgoff + a.NPages)
                {
                    return $"guest_memfd bindings overlap: {a} @{a.GuestMemfdPgoff} and {b} @{b.GuestMemfdPgoff}";
                }
            }
        }

        var privateGfns = new HashSet<ulong>();
        var sharedRanges = new List<MappedRange>();
        ulong alias = w.SharedBit / K4;
        foreach (var range in ranges)
        {
            ulong first = (range.Start.Value / K4) & ~alias;
            ulong count = (range.End.Value - range.Start.Value) / K4;
            ulong last = first + count - 1;
            if (!range.Private && alias != 0 && (range.Start.Value / K4 & alias) == 0)
            {
                return $"TDX shared leaf {range} is not at the shared alias";
            }

            // Dump merges adjacent leaves, maybe of adjacent slots: each leaf on its own must lie inside one (address space 0) slot.
            ulong leafFrames = count / (ulong)range.Leaves;
            Memslot? slot = null;
            for (ulong leaf = first; leaf <= last; leaf += leafFrames)
            {
                slot = slots.FirstOrDefault(s => s.AddressSpace == 0 && s.Contains(leaf));
                if (slot is null || !slot.Contains(leaf + leafFrames - 1))
                {
                    return $"leaf at gfn 0x{leaf:x} of {range} is not inside one memslot ({(slot is null ? "none" : slot.ToString())})";
                }

                if (range.Private && !slot.Flags.HasFlag(KvmMemFlags.GuestMemfd))
                {
                    return $"private leaf at gfn 0x{leaf:x} of {range} in {slot}, which has no guest_memfd";
                }
            }

            if (range.Private)
            {
                if (!w.HasPrivateMemory)
                {
                    return $"private leaf {range} on a VM without private memory";
                }

                if (w.Confidential && range.Level != PageLevel.Size4K)
                {
                    return $"private leaf {range} of a {w.Kind} VM is not 4K";
                }
            }

            for (ulong gfn = first; gfn <= last; gfn++)
            {
                bool attrPrivate = w.HasPrivateMemory && vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private);
                if (attrPrivate != range.Private)
                {
                    return $"{(range.Private ? "private" : "shared")} leaf {range} maps gfn 0x{gfn:x}, whose attribute is {(attrPrivate ? "private" : "shared")}";
                }

                if (range.Private)
                {
                    privateGfns.Add(gfn);
                }
            }

            if (!range.Private)
            {
                sharedRanges.Add(range);
            }
        }

        foreach (var range in sharedRanges)
        {
            ulong first = (range.Start.Value / K4) & ~alias;
            ulong count = (range.End.Value - range.Start.Value) / K4;
            for (ulong gfn = first; gfn < first + count; gfn++)
            {
                if (privateGfns.Contains(gfn))
                {
                    return $"gfn 0x{gfn:x} is mapped both private and shared ({range})";
                }
            }
        }

        return null;
    }
}
