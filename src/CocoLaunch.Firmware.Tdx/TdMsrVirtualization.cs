namespace CocoLaunch.Firmware.Tdx;

/// <summary>What the TDX module does when a TD executes RDMSR or WRMSR of one MSR.</summary>
public enum TdMsrAction
{
    /// <summary>The access runs on the CPU without a TD exit (the MSR is context-switched, or in the virtual-APIC page).</summary>
    Native,

    /// <summary>#VE (reason 31 or 32): the TD asks the VMM through TDG.VP.VMCALL.</summary>
    Ve,

    /// <summary>#GP(0): the MSR does not exist for a TD.</summary>
    Gp,

    /// <summary>#VE when the TD's configuration has the feature (TSC deadline, DCA, TME, MKTME), #GP when not.</summary>
    GpOrVe,

    /// <summary>The module answers itself: a virtual value, or a write it checks (EFER, XSS, DEBUGCTL).</summary>
    Module,
}

/// <summary>The TD configuration that makes a dynamically intercepted MSR run natively.</summary>
public enum TdMsrFeature
{
    None,
    Perfmon,
    Pks,
    XfamPt,
    XfamCet,
    XfamUli,
    XfamLbr,
    Tsx,
    Umwait,
    Xfd,
}

/// <summary>
/// The TDX module's MSR virtualization (TDX module 1.5 source, intel/tdx-module branch tdx_1.5:
/// include/auto_gen/msr_config_lookup.c for the bitmap and actions, src/td_dispatcher/vm_exits/td_msr_access.c
/// for how an exit is handled). A bitmap bit of 0 lets the access run natively; a 1 exits to the module, which
/// takes the entry's action. A dynamic bit is 0 when the TD's ATTRIBUTES, XFAM or CPUID enable the feature. An
/// MSR the table does not list exits and becomes a #VE, as the module's lookup does.
/// </summary>
public static class TdMsrVirtualization
{
    public const uint TscDeadline = 0x6E0, MiscEnable = 0x1A0, ArchCapabilities = 0x10A, XapicDisableStatus = 0xBD;
    public const uint DebugCtl = 0x1D9, PerfCapabilities = 0x345, Xss = 0xDA0, Efer = 0xC000_0080;

    private readonly record struct Rule(TdMsrAction Action, TdMsrFeature NativeWhen = TdMsrFeature.None);

    private readonly record struct Entry(uint First, uint Last, Rule Read, Rule Write);

    private static readonly Rule Native = new(TdMsrAction.Native), Ve = new(TdMsrAction.Ve), Gp = new(TdMsrAction.Gp);
    private static readonly Rule GpOrVe = new(TdMsrAction.GpOrVe), Module = new(TdMsrAction.Module);

    private static Rule GpUnless(TdMsrFeature f) => new(TdMsrAction.Gp, f);

    // Ordered by address; a range is [First, Last]. Fixed-0 bits are Native, fixed-1 bits carry their action.
    private static readonly Entry[] Table =
    [
        new(0x10, 0x10, Native, Ve),                          // IA32_TIME_STAMP_COUNTER
        new(0x48, 0x49, Native, Native),                      // IA32_SPEC_CTRL, IA32_PRED_CMD
        new(0x87, 0x87, GpOrVe, GpOrVe),                      // IA32_MKTME_KEYID_PARTITIONING
        new(0x8C, 0x8F, Gp, Gp),                              // IA32_SGXLEPUBKEYHASH0-3
        new(0x98, 0x9B, Gp, Gp),                              // WBINVDP, WBNOINVDP, INTR_PENDING, SMM_MONITOR_CTL
        new(0x9E, 0x9E, Gp, Gp),                              // IA32_SMBASE
        new(0xBC, 0xBC, Native, Ve),                          // IA32_MISC_PACKAGE_CTLS
        new(0xBD, 0xBD, Module, Native),                      // IA32_XAPIC_DISABLE_STATUS
        new(0xC1, 0xC8, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_PMC0-7
        new(0xE1, 0xE1, GpUnless(TdMsrFeature.Umwait), GpUnless(TdMsrFeature.Umwait)),   // IA32_UMWAIT_CONTROL
        new(0x10A, 0x10A, Module, Native),                    // IA32_ARCH_CAPABILITIES
        new(0x10B, 0x10B, Native, Native),                    // IA32_FLUSH_CMD
        new(0x122, 0x122, GpUnless(TdMsrFeature.Tsx), GpUnless(TdMsrFeature.Tsx)),       // IA32_TSX_CTRL
        new(0x174, 0x176, Native, Native),                    // IA32_SYSENTER_CS/ESP/EIP
        new(0x186, 0x18D, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_PERFEVTSEL0-7
        new(0x195, 0x195, Gp, Gp),                            // IA32_OVERCLOCKING_STATUS
        new(0x1A0, 0x1A0, new(TdMsrAction.Module, TdMsrFeature.Perfmon), Ve), // IA32_MISC_ENABLE
        new(0x1A6, 0x1A7, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // MSR_OFFCORE_RSP0-1
        new(0x1C4, 0x1C5, GpUnless(TdMsrFeature.Xfd), GpUnless(TdMsrFeature.Xfd)),       // IA32_XFD, IA32_XFD_ERR
        new(0x1D9, 0x1D9, Module, Module),                    // IA32_DEBUGCTL
        new(0x1F8, 0x1FA, GpOrVe, GpOrVe),                    // IA32_PLATFORM_DCA_CAP, CPU_DCA_CAP, DCA_0_CAP
        new(0x276, 0x276, Gp, Gp),                            // MSR_SLAM_ENABLE
        new(0x277, 0x277, Native, Native),                    // IA32_PAT
        new(0x309, 0x310, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_FIXED_CTR0-7
        new(0x329, 0x329, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_PERF_METRICS
        new(0x345, 0x345, new(TdMsrAction.Module, TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_PERF_CAPABILITIES
        new(0x38D, 0x392, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // FIXED_CTR_CTRL … PERF_GLOBAL_INUSE
        new(0x3F1, 0x3F2, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_PEBS_ENABLE, PEBS_MATRIX_VECT
        new(0x3F6, 0x3F7, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // PEBS_LD_LATENCY, PEBS_FRONTEND
        new(0x480, 0x492, Module, Gp),                        // IA32_VMX_BASIC … VMX_PROCBASED_CTLS3
        new(0x4C1, 0x4C8, GpUnless(TdMsrFeature.Perfmon), GpUnless(TdMsrFeature.Perfmon)), // IA32_A_PMC0-7
        new(0x500, 0x500, Gp, Gp),                            // IA32_SGX_SVN_STATUS
        new(0x560, 0x561, GpUnless(TdMsrFeature.XfamPt), GpUnless(TdMsrFeature.XfamPt)), // IA32_RTIT_OUTPUT_BASE/MASK_PTRS
        new(0x570, 0x572, GpUnless(TdMsrFeature.XfamPt), GpUnless(TdMsrFeature.XfamPt)), // IA32_RTIT_CTL/STATUS/CR3_MATCH
        new(0x580, 0x587, GpUnless(TdMsrFeature.XfamPt), GpUnless(TdMsrFeature.XfamPt)), // IA32_RTIT_ADDR0_A … ADDR3_B
        new(0x600, 0x600, Native, Native),                    // IA32_DS_AREA
        new(0x6A0, 0x6A0, GpUnless(TdMsrFeature.XfamCet), GpUnless(TdMsrFeature.XfamCet)), // IA32_U_CET
        new(0x6A2, 0x6A2, GpUnless(TdMsrFeature.XfamCet), GpUnless(TdMsrFeature.XfamCet)), // IA32_S_CET
        new(0x6A4, 0x6A8, GpUnless(TdMsrFeature.XfamCet), GpUnless(TdMsrFeature.XfamCet)), // IA32_PL0-3_SSP, INTERRUPT_SSP_TABLE_ADDR
        new(0x6E0, 0x6E0, GpOrVe, GpOrVe),                    // IA32_TSC_DEADLINE
        new(0x6E1, 0x6E1, GpUnless(TdMsrFeature.Pks), GpUnless(TdMsrFeature.Pks)),       // IA32_PKRS
        new(0x800, 0x801, Gp, Gp),                            // reserved x2APIC
        new(0x804, 0x807, Gp, Gp),                            // reserved x2APIC
        new(0x808, 0x80C, Native, Native),                    // x2APIC TPR, (0x809), PPR, EOI, (0x80C): virtual-APIC page
        new(0x80E, 0x80E, Native, Native),                    // reserved x2APIC, native
        new(0x810, 0x827, Native, Native),                    // x2APIC ISR0-7, TMR0-7, IRR0-7
        new(0x829, 0x82E, Gp, Gp),                            // reserved x2APIC
        new(0x831, 0x831, Gp, Gp),                            // reserved x2APIC
        new(0x83F, 0x83F, Native, Native),                    // x2APIC SELF_IPI
        new(0x840, 0x8FF, Gp, Gp),                            // reserved x2APIC
        new(0x981, 0x984, GpOrVe, GpOrVe),                    // IA32_TME_CAPABILITY/ACTIVATE/EXCLUDE_MASK/EXCLUDE_BASE
        new(0x985, 0x98A, GpUnless(TdMsrFeature.XfamUli), GpUnless(TdMsrFeature.XfamUli)), // IA32_UINTR_*
        new(0xC80, 0xC80, Native, Ve),                        // IA32_DEBUG_INTERFACE
        new(0xD90, 0xD90, Gp, Gp),                            // IA32_BNDCFGS
        new(0xD93, 0xD93, Gp, Gp),                            // IA32_PASID
        new(0xDA0, 0xDA0, Native, Module),                    // IA32_XSS
        new(0x1200, 0x12FF, GpUnless(TdMsrFeature.XfamLbr), GpUnless(TdMsrFeature.XfamLbr)), // IA32_LBR_INFO_0-255
        new(0x14CE, 0x14CF, GpUnless(TdMsrFeature.XfamLbr), GpUnless(TdMsrFeature.XfamLbr)), // IA32_LBR_CTL, LBR_DEPTH
        new(0x1500, 0x16FF, GpUnless(TdMsrFeature.XfamLbr), GpUnless(TdMsrFeature.XfamLbr)), // IA32_LBR_x_FROM_IP, x_TO_IP
        new(0x1B01, 0x1B01, Native, Native),                  // IA32_UARCH_MISC_CTL
        new(0xC000_0080, 0xC000_0080, Native, Module),        // IA32_EFER
        new(0xC000_0081, 0xC000_0082, Native, Native),        // IA32_STAR, IA32_LSTAR
        new(0xC000_0084, 0xC000_0084, Native, Native),        // IA32_FMASK
        new(0xC000_0100, 0xC000_0103, Native, Native),        // IA32_FSBASE, GSBASE, KERNEL_GS_BASE, TSC_AUX
    ];

    /// <summary>What the module does with RDMSR (<paramref name="write"/> false) or WRMSR of <paramref name="index"/>.</summary>
    public static TdMsrAction Classify(uint index, bool write, Func<TdMsrFeature, bool> enabled)
    {
        int lo = 0, hi = Table.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            var e = Table[mid];
            if (index < e.First)
            {
                hi = mid - 1;
            }
            else if (index > e.Last)
            {
                lo = mid + 1;
            }
            else
            {
                var rule = write ? e.Write : e.Read;
                return rule.NativeWhen != TdMsrFeature.None && enabled(rule.NativeWhen) ? TdMsrAction.Native : rule.Action;
            }
        }

        return TdMsrAction.Ve;
    }

    /// <summary>The table's ranges, for a test that they are ordered and disjoint.</summary>
    internal static IEnumerable<(uint First, uint Last)> Ranges => Table.Select(e => (e.First, e.Last));
}
