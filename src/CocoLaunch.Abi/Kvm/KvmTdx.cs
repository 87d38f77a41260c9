namespace CocoLaunch.Abi.Kvm;

/// <summary><c>kvm_tdx_cmd.id</c>: the KVM_MEMORY_ENCRYPT_OP sub-commands of a TDX VM or vCPU.</summary>
public enum KvmTdxCmdId : uint
{
    Capabilities = 0,
    InitVm = 1,
    InitVcpu = 2,
    InitMemRegion = 3,
    FinalizeVm = 4,
    GetCpuid = 5,
    TerminateVm = 6,

    /// <summary>KVM_TDX_EXTEND_MEMORY of the early-2024 API (tdx-two-pass-2024 profile): MR.EXTEND after all PAGE.ADDs.</summary>
    ExtendMemory = 0x100,
}

/// <summary>
/// <c>struct kvm_tdx_cmd</c> (24 bytes: id, flags, data pointer, hw_error). The data pointer is modelled as the
/// object it points at; the kernel copies the whole struct back, and so does the model (<see cref="HwError"/>).
/// </summary>
public sealed class KvmTdxCmd
{
    public const int SizeInBytes = 24;

    public KvmTdxCmdId Id { get; set; }

    public uint Flags { get; set; }

    /// <summary>The payload: <see cref="KvmTdxInitVm"/>, <see cref="KvmTdxInitMemRegion"/>, or a ulong (INIT_VCPU's initial RCX).</summary>
    public object? Data { get; set; }

    /// <summary>The SEAMCALL status when the TDX module failed the command.</summary>
    public ulong HwError { get; set; }
}

/// <summary>KVM_TDX_MEASURE_MEMORY_REGION: INIT_MEM_REGION also TDH.MR.EXTENDs each page.</summary>
public static class KvmTdxFlags
{
    public const uint MeasureMemoryRegion = 1u << 0;
}

/// <summary><c>struct kvm_cpuid_entry2</c> (40 bytes).</summary>
public readonly record struct KvmCpuidEntry2(uint Function, uint Index, uint Flags, uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary><c>struct kvm_tdx_init_vm</c>: TD_PARAMS from userspace (256 bytes, then a kvm_cpuid2).</summary>
public sealed class KvmTdxInitVm
{
    public const int MaxCpuidEntries = 256;

    public ulong Attributes { get; set; }

    public ulong Xfam { get; set; }

    public byte[] MrConfigId { get; set; } = new byte[48];

    public byte[] MrOwner { get; set; } = new byte[48];

    public byte[] MrOwnerConfig { get; set; } = new byte[48];

    /// <summary>reserved[12]; must be zero.</summary>
    public ulong[] Reserved { get; set; } = new ulong[12];

    /// <summary>kvm_cpuid2.padding; must be zero.</summary>
    public uint CpuidPadding { get; set; }

    public List<KvmCpuidEntry2> Cpuid { get; set; } = [];

    /// <summary>CPUID 0x80000008 with EAX[7:0] = MAXPHYADDR and EAX[23:16] = GPAW 48, as QEMU passes by default.</summary>
    public static KvmCpuidEntry2 GuestPhysBits(uint gpaw) => new(0x8000_0008, 0, 0, (gpaw << 16) | 52, 0, 0, 0);
}

/// <summary><c>struct kvm_cpuid2</c>: <see cref="Nent"/> entries' room in, the count written back; then the entries.</summary>
public sealed class KvmCpuid2
{
    public uint Nent { get; set; }

    public List<KvmCpuidEntry2> Entries { get; set; } = [];
}

/// <summary><c>struct kvm_tdx_init_mem_region</c>; the kernel writes the progress back in every case.</summary>
public struct KvmTdxInitMemRegion
{
    public ulong SourceAddr;
    public ulong Gpa;
    public ulong NrPages;
}

/// <summary>
/// <c>struct kvm_tdx_capabilities</c>: the TD attributes and XFAM bits the module supports, and the CPUID
/// bits userspace may configure. <see cref="CpuidNent"/> is the caller's room for entries.
/// </summary>
public sealed class KvmTdxCapabilities
{
    public ulong SupportedAttrs { get; set; }

    public ulong SupportedXfam { get; set; }

    /// <summary>kernel_tdvmcallinfo_1_r11 (6.17+): GetTdVmCallInfo leaf-1 R11 bits KVM handles itself.</summary>
    public ulong KernelTdvmcallInfo1R11 { get; set; }

    /// <summary>user_tdvmcallinfo_1_r11 (6.17+): R11 bits KVM forwards to userspace (SETUP_EVENT_NOTIFY_INTERRUPT).</summary>
    public ulong UserTdvmcallInfo1R11 { get; set; }

    /// <summary>kernel_tdvmcallinfo_1_r12 (6.17+).</summary>
    public ulong KernelTdvmcallInfo1R12 { get; set; }

    /// <summary>user_tdvmcallinfo_1_r12 (6.17+).</summary>
    public ulong UserTdvmcallInfo1R12 { get; set; }

    /// <summary>In: how many CPUID entries the caller has room for. Out: how many there are.</summary>
    public uint CpuidNent { get; set; }

    public List<KvmCpuidEntry2> Cpuid { get; set; } = [];
}
