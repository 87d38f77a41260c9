using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Snp;

/// <summary>The legacy SEV and SEV-ES launch: the firmware (and hashes table) as data, then the VMSAs (snp-launch-digest.md §7).</summary>
internal static class SevLaunchSteps
{
    public static void LaunchStart(LaunchContext c)
    {
        c.RequireVm().MeasurementLog = c.Log;
        c.RequireVm().MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.LaunchStart, Data = new KvmSevLaunchStart { Policy = c.Spec.Sev!.Policy } });
    }

    /// <summary>The firmware as mapped in its slot, then, for a measured direct boot, the padded hashes table where the firmware expects it.</summary>
    public static void LaunchUpdateData(LaunchContext c)
    {
        var vm = c.RequireVm();
        var firmwareSlot = vm.Memslots.Single(s => s.BaseGfn * PageSize.Size4K == c.Firmware.LoadAddress.Value);
        c.Log.Section = "firmware";
        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.LaunchUpdateData, Data = new KvmSevLaunchUpdateData { Uaddr = firmwareSlot.UserspaceAddr.Value, Len = (uint)c.Firmware.Size } });
        if (c.Spec.DirectBoot is { } boot)
        {
            var table = c.Ovmf?.Sev.Value?.HashTable ?? throw new LaunchException("the firmware has no SEV hash table entry");
            var slot = vm.Memslots.FirstOrDefault(s => s.Contains(table.Base / PageSize.Size4K)) ?? throw new LaunchException($"the SEV hash table at 0x{table.Base:x} is in no memslot");
            var hva = new Memory.Hva(slot.UserspaceAddr.Value + table.Base - (slot.BaseGfn * PageSize.Size4K));
            byte[] bytes = SevHashTable.FromFiles(boot.KernelPath, boot.InitrdPath, boot.Cmdline);
            c.Kvm.Host.Write(hva, bytes);
            c.Log.Section = "kernel hashes";
            vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.LaunchUpdateData, Data = new KvmSevLaunchUpdateData { Uaddr = hva.Value, Len = (uint)bytes.Length } });
        }

        c.Log.Section = string.Empty;
    }

    /// <summary>SEV-ES: each vCPU's reset state (sev_features 0), vCPU 0 first; then LAUNCH_MEASURE closes the digest.</summary>
    public static void LaunchUpdateVmsaAndMeasure(LaunchContext c)
    {
        var vm = c.RequireVm();
        if (c.Spec.Platform == KvmVmType.SevEs)
        {
            var sev = c.Spec.Sev!;
            var profile = SnpLaunchSteps.ProfileOf(sev.VmmType);
            uint? apEip = c.Ovmf?.Sev.Value?.ApResetEip;
            for (int i = 0; i < c.Vcpus.Count; i++)
            {
                uint eip = i == 0 ? Vmsa.BspResetEip : apEip ?? throw new LaunchException("the firmware has no SEV-ES reset block for the APs");
                c.Vcpus[i].SevEsSaveArea = Vmsa.Build(eip, profile, sev.Vcpu?.Signature ?? 0, sevFeatures: 0, legacyInit: sev.VmmType == VmmType.QemuLegacyInit);
            }

            c.Log.Section = "VMSA";
            vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.LaunchUpdateVmsa });
        }

        vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.LaunchMeasure });
        c.Log.Section = string.Empty;
        c.LaunchDigest = vm.Sev!.LaunchDigest;
    }
}
