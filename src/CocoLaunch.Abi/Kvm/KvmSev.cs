namespace CocoLaunch.Abi.Kvm;

/// <summary><c>kvm_sev_cmd.id</c> values for SNP (legacy SEV ids are below 100).</summary>
public enum KvmSevCmdId : uint
{
    LaunchStart = 2,
    LaunchUpdateData = 3,
    LaunchUpdateVmsa = 4,
    LaunchMeasure = 6,
    SnpLaunchStart = 100,
    SnpLaunchUpdate = 101,
    SnpLaunchFinish = 102,
}

/// <summary><c>struct kvm_sev_cmd</c>: id, data (modelled as the object it points at), and the firmware status written back.</summary>
public sealed class KvmSevCmd
{
    public KvmSevCmdId Id { get; set; }

    public object? Data { get; set; }

    /// <summary>The SNP firmware status (SEV_RET_*), written back by KVM.</summary>
    public uint Error { get; set; }
}

/// <summary><c>struct kvm_sev_snp_launch_start</c>.</summary>
public struct KvmSevSnpLaunchStart
{
    public ulong Policy;
    public ushort Flags;
}

/// <summary><c>struct kvm_sev_snp_launch_update</c>; gfn_start, uaddr and len are written back with the progress.</summary>
public struct KvmSevSnpLaunchUpdate
{
    public ulong GfnStart;
    public ulong Uaddr;
    public ulong Len;
    public byte Type;
    public ushort Flags;
}

/// <summary><c>struct kvm_sev_snp_launch_finish</c> (ID block and auth are not modelled yet).</summary>
public struct KvmSevSnpLaunchFinish
{
    /// <summary>User address of the 96-byte ID block, read when <see cref="IdBlockEn"/> is 1.</summary>
    public ulong IdBlockUaddr;

    /// <summary>User address of the 4096-byte ID authentication information.</summary>
    public ulong IdAuthUaddr;

    public byte IdBlockEn;
    public byte AuthKeyEn;
    public byte VcekDisabled;
    public ushort Flags;
    public byte[]? HostData;
}

/// <summary>SNP guest policy bits KVM checks at LAUNCH_START (kvm-memory-model.md §1.3).</summary>
public static class SnpPolicyBits
{
    public const ulong Smt = 1UL << 16;
    public const ulong ReservedMustBeOne = 1UL << 17;
    public const ulong MigrateMa = 1UL << 18;
    public const ulong Debug = 1UL << 19;
    public const ulong SingleSocket = 1UL << 20;

    /// <summary>
    /// SNP_POLICY_MASK_VALID of <c>snp_launch_start</c> (arch/x86/kvm/svm/sev.c): ABI minor/major (15:0), SMT,
    /// RSVD_MBO, DEBUG and SINGLE_SOCKET. MIGRATE_MA (bit 18) is not in it, so KVM refuses it with EINVAL.
    /// </summary>
    public const ulong KvmValidMask = 0xFFFF | Smt | ReservedMustBeOne | Debug | SingleSocket;
}

/// <summary><c>struct kvm_sev_launch_start</c> (the fields the model uses).</summary>
public struct KvmSevLaunchStart
{
    public uint Policy;
}

/// <summary><c>struct kvm_sev_launch_update_data</c>: a host buffer the firmware encrypts in place and measures.</summary>
public struct KvmSevLaunchUpdateData
{
    public ulong Uaddr;
    public uint Len;
}
