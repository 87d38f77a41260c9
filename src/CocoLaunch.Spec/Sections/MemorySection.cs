using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class MemorySection
{
    /// <summary>KVM_MEM_MAX_NR_PAGES pages: the most one memslot holds (8 TiB less 4 KiB).</summary>
    public const ulong MaxSlotBytes = KvmLimits.MemMaxNrPages * PageSize.Size4K;

    /// <summary>KVM_USER_MEM_SLOTS less the slot the firmware takes.</summary>
    public const int MaxSlots = KvmLimits.UserMemSlots - 1;

    /// <summary>
    /// The most guest RAM the launcher maps: the VMM backs all of it in its own address space, which under x86-64
    /// 4-level paging is 128 TiB (TASK_SIZE) and also holds the VMM, its firmware and page-table copies.
    /// </summary>
    public const ulong MaxTotalBytes = 64UL << 40;

    /// <summary>A TD's shared bit under QEMU's GPAW of 48 (4-level EPT): a GPA with it set is the shared alias of another.</summary>
    private const ulong TdxSharedBit = 1UL << 47;

    /// <summary>QEMU q35 with at least 2.75 GiB: the RAM above 2 GiB goes into one memslot at 4 GiB.</summary>
    private const ulong Q35LowMemSplit = 0xB000_0000, Q35LowMem = 0x8000_0000;

    private static readonly Dictionary<string, MemslotKind> Kinds = new(StringComparer.Ordinal)
    {
        ["private"] = MemslotKind.Private,
        ["shared"] = MemslotKind.Shared,
    };

    private static readonly Dictionary<string, ulong> HostPages = new(StringComparer.Ordinal)
    {
        ["4K"] = 4UL << 10,
        ["2M"] = 2UL << 20,
        ["1G"] = 1UL << 30,
    };

    /// <summary>
    /// <c>memory: SIZE</c> or <c>memory: {size: SIZE, slots: [{gpa, size, kind}, …], host-pages: 4K|2M|1G,
    /// guest-memfd-pages: 4K|2M|1G}</c>. guest_memfd pages larger than 4K are the hugetlb series, not upstream.
    /// </summary>
    public static MemorySpec Read(YamlSpecReader reader, YamlNode node, KvmVmType platform)
    {
        if (node is YamlScalarNode)
        {
            ulong total = CheckTotal(reader, node, "memory", reader.Size(node, "memory"));
            if (total >= Q35LowMemSplit && total - Q35LowMem > MaxSlotBytes)
            {
                throw reader.Fail(node, $"memory: {SizeParser.Format(total)} puts {SizeParser.Format(total - Q35LowMem)} above 4 GiB in one memslot, more than the {SlotLimit} KVM allows in a memslot (KVM_MEM_MAX_NR_PAGES); split it with memory.slots");
            }

            return new MemorySpec(total, [], Location: reader.LocationOf(node));
        }

        var map = reader.Mapping(node, "memory", "size", "slots", "host-pages", "guest-memfd-pages");
        if (!map.Has("size") && !map.Has("slots"))
        {
            throw reader.Fail(node, "memory: give 'size', 'slots' or both");
        }

        var slots = map.Optional("slots") is { } s ? ReadSlots(reader, s, platform) : [];
        ulong hostPages = map.Optional("host-pages") is { } hp ? reader.Choice(hp, "memory.host-pages", HostPages) : MemorySpec.DefaultHostPageSize;
        ulong gmemPages = PageSize.Size4K;
        if (map.Optional("guest-memfd-pages") is { } gp)
        {
            gmemPages = reader.Choice(gp, "memory.guest-memfd-pages", HostPages);
            if (!platform.HasPrivateMemory())
            {
                throw reader.Fail(gp, "memory.guest-memfd-pages: this platform has no guest_memfd (use tdx, snp or sw-protected)");
            }
        }

        ulong slotTotal = slots.Aggregate(0UL, (sum, slot) => sum + slot.Size);
        if (map.Optional("size") is not { } sizeNode)
        {
            return new MemorySpec(CheckTotal(reader, map.Required("slots"), "memory.slots", slotTotal), slots, hostPages, gmemPages, reader.LocationOf(node));
        }

        ulong size = CheckTotal(reader, sizeNode, "memory.size", reader.Size(sizeNode, "memory.size"));
        if (slots.Count > 0 && slotTotal != size)
        {
            throw reader.Fail(sizeNode, $"memory.size is {SizeParser.Format(size)} but the slots add up to {SizeParser.Format(slotTotal)}");
        }

        return new MemorySpec(size, slots, hostPages, gmemPages, reader.LocationOf(node));
    }

    private static ulong CheckTotal(YamlSpecReader reader, YamlNode node, string key, ulong size)
    {
        if (size == 0 || !PageSize.IsAligned4K(size))
        {
            throw reader.Fail(node, $"{key}: {SizeParser.Format(size)} is not a positive multiple of 4 KiB");
        }

        if (size > LaunchSpecParser.MaxPhysicalAddress)
        {
            throw reader.Fail(node, $"{key}: {SizeParser.Format(size)} is more than the 4 PiB a 52-bit physical address space holds");
        }

        return size <= MaxTotalBytes
            ? size
            : throw reader.Fail(node, $"{key}: {SizeParser.Format(size)} is more than the {SizeParser.Format(MaxTotalBytes)} of guest RAM the launcher maps (the VMM's 128 TiB user address space holds all of it)");
    }

    private static string SlotLimit => $"0x{KvmLimits.MemMaxNrPages:x} pages (8 TiB less 4 KiB)";

    private static List<MemslotSpec> ReadSlots(YamlSpecReader reader, YamlNode node, KvmVmType platform)
    {
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
        {
            string got = node is YamlSequenceNode ? "an empty list" : YamlSpecReader.Describe(node);
            throw reader.Fail(node, $"memory.slots: expected a non-empty list of slots, got {got}");
        }

        if (list.Children.Count > MaxSlots)
        {
            throw reader.Fail(list.Children[MaxSlots], $"memory.slots: {list.Children.Count} slots are more than the {MaxSlots} a launch can have (KVM_USER_MEM_SLOTS is {KvmLimits.UserMemSlots}, and the firmware takes one)");
        }

        var slots = new List<(MemslotSpec Slot, YamlNode Node)>();
        var byGpa = new SortedList<ulong, int>(); // start GPA -> index in slots: overlap checks in O(log n), not against every slot
        for (int i = 0; i < list.Children.Count; i++)
        {
            string key = $"memory.slots[{i}]";
            var item = list.Children[i];
            var m = reader.Mapping(item, key, "gpa", "size", "kind");
            var gpaNode = m.Required("gpa");
            var sizeNode = m.Required("size");
            var kindNode = m.Required("kind");
            var gpa = new Gpa(reader.UInt64(gpaNode, key + ".gpa"));
            ulong size = reader.Size(sizeNode, key + ".size");
            var kind = reader.Choice(kindNode, key + ".kind", Kinds);
            if (!gpa.IsPageAligned)
            {
                throw reader.Fail(gpaNode, $"{key}.gpa: {gpa} is not 4 KiB aligned");
            }

            if (size == 0 || !PageSize.IsAligned4K(size))
            {
                throw reader.Fail(sizeNode, $"{key}.size: {SizeParser.Format(size)} is not a positive multiple of 4 KiB");
            }

            if (size > MaxSlotBytes)
            {
                throw reader.Fail(sizeNode, $"{key}.size: {SizeParser.Format(size)} is more than the {SlotLimit} KVM allows in a memslot (KVM_MEM_MAX_NR_PAGES)");
            }

            if (!gpa.TryAdd(size, out var end) || end.Value > LaunchSpecParser.MaxPhysicalAddress)
            {
                throw reader.Fail(sizeNode, $"{key}: the slot ends beyond the 52-bit physical address space");
            }

            if (platform == KvmVmType.Tdx && end.Value > TdxSharedBit)
            {
                throw reader.Fail(gpaNode, $"{key}: [{gpa},0x{end.Value:x}) reaches GPA bit 47, the shared bit of a TD with QEMU's 48-bit GPAW; TDX guest memory ends at 0x{TdxSharedBit:x}");
            }

            if (kind == MemslotKind.Private && !platform.HasPrivateMemory())
            {
                throw reader.Fail(kindNode, $"{key}.kind: private memory needs a platform with guest_memfd-backed private memory (tdx, snp or sw-protected)");
            }

            var slot = new MemslotSpec(gpa, size, kind);
            var clash = Overlap(slots, byGpa, slot);
            if (clash.Node is not null)
            {
                throw reader.Fail(item, $"{key}: GPA range [{slot.Gpa},0x{slot.End:x}) overlaps the slot at line {clash.Node.Start.Line} [{clash.Slot.Gpa},0x{clash.Slot.End:x})");
            }

            slots.Add((slot, item));
            byGpa.Add(slot.Gpa.Value, slots.Count - 1);
        }

        return slots.Select(s => s.Slot).ToList();
    }

    /// <summary>The earlier slot that overlaps <paramref name="slot"/>, if any: slots do not overlap each other, so only the
    /// neighbours by start GPA can (the last one starting at or below it, and the first one starting above it).</summary>
    private static (MemslotSpec Slot, YamlNode Node) Overlap(List<(MemslotSpec Slot, YamlNode Node)> slots, SortedList<ulong, int> byGpa, MemslotSpec slot)
    {
        var starts = byGpa.Keys;
        int lo = 0, hi = starts.Count; // first start above slot.Gpa
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (starts[mid] <= slot.Gpa.Value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        foreach (int n in new[] { lo - 1, lo })
        {
            if (n >= 0 && n < starts.Count && slots[byGpa.Values[n]] is var other && other.Slot.Gpa.Value < slot.End && slot.Gpa.Value < other.Slot.End)
            {
                return other;
            }
        }

        return default;
    }
}
