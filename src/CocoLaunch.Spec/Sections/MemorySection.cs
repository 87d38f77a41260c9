using CocoLaunch.Abi;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class MemorySection
{
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
            return new MemorySpec(CheckTotal(reader, node, "memory", reader.Size(node, "memory")), []);
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
            return new MemorySpec(slotTotal, slots, hostPages, gmemPages);
        }

        ulong size = CheckTotal(reader, sizeNode, "memory.size", reader.Size(sizeNode, "memory.size"));
        if (slots.Count > 0 && slotTotal != size)
        {
            throw reader.Fail(sizeNode, $"memory.size is {SizeParser.Format(size)} but the slots add up to {SizeParser.Format(slotTotal)}");
        }

        return new MemorySpec(size, slots, hostPages, gmemPages);
    }

    private static ulong CheckTotal(YamlSpecReader reader, YamlNode node, string key, ulong size)
    {
        if (size == 0 || !PageSize.IsAligned4K(size))
        {
            throw reader.Fail(node, $"{key}: {SizeParser.Format(size)} is not a positive multiple of 4 KiB");
        }

        return size <= LaunchSpecParser.MaxPhysicalAddress
            ? size
            : throw reader.Fail(node, $"{key}: {SizeParser.Format(size)} is more than the 4 PiB a 52-bit physical address space holds");
    }

    private static List<MemslotSpec> ReadSlots(YamlSpecReader reader, YamlNode node, KvmVmType platform)
    {
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
        {
            string got = node is YamlSequenceNode ? "an empty list" : YamlSpecReader.Describe(node);
            throw reader.Fail(node, $"memory.slots: expected a non-empty list of slots, got {got}");
        }

        var slots = new List<(MemslotSpec Slot, YamlNode Node)>();
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

            if (!gpa.TryAdd(size, out var end) || end.Value > LaunchSpecParser.MaxPhysicalAddress)
            {
                throw reader.Fail(sizeNode, $"{key}: the slot ends beyond the 52-bit physical address space");
            }

            if (kind == MemslotKind.Private && !platform.HasPrivateMemory())
            {
                throw reader.Fail(kindNode, $"{key}.kind: private memory needs a platform with guest_memfd-backed private memory (tdx, snp or sw-protected)");
            }

            var slot = new MemslotSpec(gpa, size, kind);
            var clash = slots.FirstOrDefault(o => o.Slot.Gpa.Value < slot.End && slot.Gpa.Value < o.Slot.End);
            if (clash.Node is not null)
            {
                throw reader.Fail(item, $"{key}: GPA range [{slot.Gpa},0x{slot.End:x}) overlaps the slot at line {clash.Node.Start.Line} [{clash.Slot.Gpa},0x{clash.Slot.End:x})");
            }

            slots.Add((slot, item));
        }

        return slots.Select(s => s.Slot).ToList();
    }
}
