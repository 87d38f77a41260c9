using CocoLaunch.Formats;
using CocoLaunch.Kvm;
using CocoLaunch.Spec;

namespace CocoLaunch.Vmm.Launch;

/// <summary>Everything the recipe's steps build up, in the order they build it.</summary>
/// <param name="parallelPageHashing">Let the SNP firmware model hash pages on two cores (<see cref="Kvm.Kvm.ParallelPageHashing"/>).</param>
public sealed class LaunchContext(LaunchSpec spec, FirmwareImage firmware, Formats.Ovmf.OvmfFirmware? ovmf = null, bool parallelPageHashing = true)
{
    public LaunchSpec Spec { get; } = spec;

    public FirmwareImage Firmware { get; } = firmware;

    /// <summary>An IGVM file whose directives replace the firmware's metadata as what the launch loads and measures.</summary>
    public Igvm.IgvmLaunchInput? Igvm { get; init; }

    /// <summary>The parsed OVMF metadata; confidential platforms need it.</summary>
    public Formats.Ovmf.OvmfFirmware? Ovmf { get; } = ovmf;

    /// <summary>
    /// Private memory converts in place (the guest_memfd KVM_GMEM_CONVERT_* series): the memslots are the
    /// guest_memfd's own mmap, and privacy is per guest_memfd page instead of a VM attribute. Set before the recipe runs.
    /// </summary>
    public bool InPlaceConversion { get; init; }

    /// <summary>The model's kernel, with the profile the spec's measurement order needs (two-pass needs the 2024 extend ioctl).</summary>
    public Kvm.Kvm Kvm => kvm ??= new(
        (Spec.Tdx?.Measurement.Order == TdxPageOrder.TwoPass ? KvmProfile.Upstream with { TdxTwoPass = true } : KvmProfile.Upstream) with
        {
            GmemInPlaceConversion = InPlaceConversion,
            GmemFolioSize = Spec.Memory.GuestMemfdPageSize,
            HostMemoryLimit = HostMemoryLimit ?? DefaultHostMemoryLimit,
        })
    {
        ParallelPageHashing = parallelPageHashing,
    };

    private Kvm.Kvm? kvm;

    /// <summary>The most host memory the guest's pages may take (<see cref="KvmProfile.HostMemoryLimit"/>); null for the default.</summary>
    public ulong? HostMemoryLimit { get; init; }

    /// <summary>
    /// Twice the guest's memory, and 64 MiB: each GPA may be backed twice — a shared page in host memory and a
    /// private one in its guest_memfd — when conversions do not discard the other side. Anything beyond that is the
    /// host growing without bound.
    /// </summary>
    public ulong DefaultHostMemoryLimit => (2 * GuestMemoryLayout.Plan(Spec, (ulong)Firmware.Size).Aggregate(0UL, (sum, s) => sum + s.Size)) + (64UL << 20);

    /// <summary>
    /// The RTMR events OVMF will log for the spec's measured direct boot (tdx.measured-boot), computed once; null
    /// when the spec has none. A bad input (ACPI blob, boot variable, kernel) is a <see cref="LaunchException"/>.
    /// </summary>
    public IReadOnlyList<Tdx.ExplainedEvent>? TdvfBootEvents => (tdvfBootEvents ??= new(() => Tdx.TdvfBootEvents.For(this))).Value;

    private Lazy<IReadOnlyList<Tdx.ExplainedEvent>?>? tdvfBootEvents;

    /// <summary>When set, every range the launch loads is recorded there with its bytes and page type; set before the recipe runs.</summary>
    public LoadedPages? Loaded { get; init; }

    /// <summary>Every measured operation of this launch, in order.</summary>
    public Abi.Measurement.MeasurementLog Log { get; } = new();

    /// <summary>The SNP launch digest after KVM_SEV_SNP_LAUNCH_FINISH.</summary>
    public byte[]? LaunchDigest { get; internal set; }

    /// <summary>MRTD after KVM_TDX_FINALIZE_VM.</summary>
    public byte[]? Mrtd { get; internal set; }

    /// <summary>The TD HOB the launch wrote (end HOB included).</summary>
    public byte[]? TdHob { get; internal set; }

    /// <summary>The SVSM the SNP launch measured after the firmware, when the spec has one.</summary>
    internal Snp.SvsmImage? Svsm { get; set; }

    public VmFd? Vm { get; internal set; }

    public List<VcpuFd> Vcpus { get; } = [];

    public IReadOnlyList<PlannedSlot> Layout { get; internal set; } = [];

    /// <summary>The GPA ranges pre-faulted, in order: what the exact-range rule promises the dump covers.</summary>
    public List<(Abi.Gpa Gpa, ulong Size)> PreFaulted { get; } = [];

    public VmFd RequireVm() => Vm ?? throw new InvalidOperationException("the VM has not been created yet");
}
