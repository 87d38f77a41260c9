namespace CocoLaunch.Abi;

/// <summary>The <c>type</c> argument of <c>KVM_CREATE_VM</c> on x86 (<c>KVM_X86_*_VM</c>).</summary>
public enum KvmVmType : uint
{
    Default = 0,
    SwProtected = 1,
    Sev = 2,
    SevEs = 3,
    Snp = 4,
    Tdx = 5,
}

public static class KvmVmTypeExtensions
{
    /// <summary>Whether guest memory can be private (guest_memfd-backed and attribute-tracked).</summary>
    public static bool HasPrivateMemory(this KvmVmType type) =>
        type is KvmVmType.SwProtected or KvmVmType.Snp or KvmVmType.Tdx;

    /// <summary>Whether the VM's launch is measured by vendor firmware (a confidential-computing VM).</summary>
    public static bool IsConfidential(this KvmVmType type) =>
        type is KvmVmType.Sev or KvmVmType.SevEs or KvmVmType.Snp or KvmVmType.Tdx;
}
