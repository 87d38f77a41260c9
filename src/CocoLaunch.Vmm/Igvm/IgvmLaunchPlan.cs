using CocoLaunch.Abi;
using CocoLaunch.Abi.IO;
using CocoLaunch.Formats.Igvm;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// What an IGVM launch needs before the VM exists: that every directive for the platform is one KVM can carry
/// out in the file's order, how many vCPUs there are, and private memslots under every page the directives load.
/// </summary>
public sealed record IgvmLaunchPlan(int Vcpus, IReadOnlyList<PlannedSlot> Layout)
{
    /// <summary>Memslots are whole 2 MiB blocks, so neighbouring pages share one slot instead of one slot each.</summary>
    private const ulong SlotAlignment = PageSize.Size2M;

    /// <summary>
    /// The most bytes one platform's directives may load (private pages and inserted parameter areas): the most a
    /// firmware or kernel file may be (1 GiB). The launch populates and measures every byte it loads, and neither is
    /// bounded by the file's size: a parameter area's size is a free u64, and a 24-byte PAGE_DATA can name a 2 MiB
    /// zero page, so without this a few KiB of headers made the launch touch hundreds of GiB.
    /// </summary>
    public const ulong MaxLoadedBytes = InputFile.BootImageLimit;

    /// <param name="vcpus">The vCPU count asked for; null for one per VP_CONTEXT (SNP) or one (TDX).</param>
    /// <exception cref="LaunchException">The file has nothing for the platform, or a directive the launch cannot express.</exception>
    public static IgvmLaunchPlan Of(IgvmLaunchInput input, KvmVmType platform, int? vcpus)
    {
        var directives = input.Directives.ToList();
        if (!directives.Any(h => h is IgvmPageData or IgvmParameterInsert or IgvmVpContext))
        {
            throw new LaunchException($"no page or VP context directive for {input.Platform.PlatformName} (mask 0x{input.Platform.Mask:x}): nothing to load or measure");
        }

        var contexts = new Dictionary<ushort, IgvmVpContext>();
        IgvmVpContext? firstContext = null;
        var areas = new Dictionary<uint, ulong>();
        ulong loaded = 0;
        foreach (var h in directives)
        {
            loaded = Load(h, areas, loaded, input.Platform);
            switch (h)
            {
                case IgvmVpContext when platform == KvmVmType.Tdx:
                    throw IgvmLaunchInput.Refuse(h, "a TD's vCPUs start in the architectural reset state; TDX has no VP context to load");
                case IgvmVpContext vp when vp.Gpa != VmFd.InitialVmsaGpa:
                    throw IgvmLaunchInput.Refuse(h, $"VMSA at {vp.Gpa}: KVM always places initial VMSAs at {VmFd.InitialVmsaGpa}, so this file's digest cannot be reproduced under KVM");
                case IgvmVpContext vp when !contexts.TryAdd(vp.VpIndex, vp):
                    throw IgvmLaunchInput.Refuse(h, $"a second VP context for VP {vp.VpIndex} (the first is header #{contexts[vp.VpIndex].Index})");
                case IgvmVpContext vp:
                    firstContext ??= vp;
                    break;
                case IgvmPageData or IgvmParameterInsert when firstContext is not null && !IsShared(h):
                    // KVM measures VMSAs at LAUNCH_FINISH, after every page: a page after one would be measured out of file order.
                    throw IgvmLaunchInput.Refuse(h, $"a page directive after the VP context in header #{firstContext.Index}; KVM measures VMSAs last, so they must be the last measured directives");
                case IgvmPageData p when platform == KvmVmType.Snp && p.DataType is IgvmPageDataType.CpuidData or IgvmPageDataType.CpuidXf && p.Size != IgvmLaunchInput.Page:
                    throw IgvmLaunchInput.Refuse(h, "a 2 MiB CPUID page: the firmware takes CPUID pages 4 KiB at a time");
            }
        }

        int count = vcpus ?? (platform == KvmVmType.Snp ? Math.Max(1, contexts.Count) : 1);
        if (platform == KvmVmType.Snp)
        {
            RequireContexts(input, contexts, count);
        }

        return new IgvmLaunchPlan(count, Slots(directives));
    }

    /// <summary>Adds what <paramref name="h"/> loads to <paramref name="loaded"/>, refusing it past <see cref="MaxLoadedBytes"/>.</summary>
    private static ulong Load(IgvmHeader h, Dictionary<uint, ulong> areas, ulong loaded, IgvmSupportedPlatform platform)
    {
        if (h is IgvmParameterArea area)
        {
            areas[area.AreaIndex] = area.Bytes; // declaring an area loads nothing; its PARAMETER_INSERT does
            return loaded;
        }

        ulong bytes = h switch
        {
            IgvmPageData p when !IsShared(p) => p.Size,
            IgvmParameterInsert i => areas[i.AreaIndex], // the reader checked that a PARAMETER_AREA declared it first
            _ => 0,
        };
        if (bytes > MaxLoadedBytes - loaded)
        {
            throw IgvmLaunchInput.Refuse(h, $"its 0x{bytes:x} bytes take what the directives for {platform.PlatformName} load past {MaxLoadedBytes >> 30} GiB, the most an IGVM launch loads (as for a firmware or kernel file)");
        }

        return loaded + bytes;
    }

    private static bool IsShared(IgvmHeader h) => h is IgvmPageData p && p.Flags.HasFlag(IgvmPageDataFlags.Shared);

    /// <summary>KVM measures a VMSA for every vCPU at LAUNCH_FINISH, so each one needs its state from the file.</summary>
    private static void RequireContexts(IgvmLaunchInput input, Dictionary<ushort, IgvmVpContext> contexts, int vcpus)
    {
        var missing = Enumerable.Range(0, vcpus).Where(i => !contexts.ContainsKey((ushort)i)).ToList();
        if (missing.Count > 0)
        {
            throw new LaunchException($"{vcpus} vCPU(s), but no IGVM_VHT_VP_CONTEXT for VP {string.Join(", ", missing)}: KVM measures every vCPU's VMSA, and an IGVM launch takes them from the file");
        }

        if (contexts.Values.FirstOrDefault(vp => vp.VpIndex >= vcpus) is { } extra)
        {
            throw IgvmLaunchInput.Refuse(extra, $"a VP context for VP {extra.VpIndex}, but the launch has {vcpus} vCPU(s) (--vcpus)");
        }
    }

    /// <summary>Private slots over every page, parameter area and required range, in 2 MiB blocks, merged where they touch.</summary>
    private static List<PlannedSlot> Slots(List<IgvmHeader> directives)
    {
        var areas = directives.OfType<IgvmParameterArea>().ToDictionary(a => a.AreaIndex, a => a.Bytes);
        var ranges = directives.Select(h => h switch
        {
            IgvmPageData p => (p.Gpa.Value, p.Size),
            IgvmParameterInsert i => (i.Gpa.Value, areas[i.AreaIndex]),
            IgvmRequiredMemory r => (r.Gpa.Value, (ulong)r.Bytes),
            _ => (0UL, 0UL),
        }).Where(r => r.Item2 > 0)
          .Select(r => (Start: r.Item1 / SlotAlignment * SlotAlignment, End: (r.Item1 + r.Item2 + SlotAlignment - 1) / SlotAlignment * SlotAlignment))
          .OrderBy(r => r.Start);

        var slots = new List<PlannedSlot>();
        foreach (var (start, end) in ranges)
        {
            if (slots.Count > 0 && start <= slots[^1].End)
            {
                var last = slots[^1];
                slots[^1] = last with { Size = Math.Max(last.End, end) - last.Gpa.Value };
                continue;
            }

            slots.Add(new PlannedSlot((uint)slots.Count, new Gpa(start), end - start, Private: true, Firmware: false));
        }

        return slots;
    }
}
