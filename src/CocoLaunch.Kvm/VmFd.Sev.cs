using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;

namespace CocoLaunch.Kvm;

public sealed partial class VmFd
{
    /// <summary>The legacy SEV/SEV-ES launch in the emulated firmware, once KVM_SEV_LAUNCH_START has run.</summary>
    public SevGuestContext? Sev { get; private set; }

    /// <summary>KVM_SEV_LAUNCH_START, LAUNCH_UPDATE_DATA, LAUNCH_UPDATE_VMSA and LAUNCH_MEASURE on SEV and SEV-ES VMs.</summary>
    private void LegacySevCommand(KvmSevCmd cmd)
    {
        switch (cmd.Id)
        {
            case KvmSevCmdId.LaunchStart:
                // sev_launch_start copies kvm_sev_launch_start from data first: no struct is EFAULT.
                var start = cmd.Data as KvmSevLaunchStart? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_LAUNCH_START: no data");
                if (Sev is not null)
                {
                    // Model choice: KVM itself has no such check; a second LAUNCH_START fails in the firmware's ASID bind.
                    throw new KvmException(Errno.EINVAL, "KVM_SEV_LAUNCH_START: the guest is already launched");
                }

                var context = new SevGuestContext(MeasurementLog);
                Guarded(cmd, () => context.LaunchStart(start.Policy));
                Sev = context;
                break;
            case KvmSevCmdId.LaunchUpdateData:
                var u = cmd.Data as KvmSevLaunchUpdateData? ?? throw new KvmException(Errno.EFAULT, "KVM_SEV_LAUNCH_UPDATE_DATA: no data");
                var data = PinSevSource(u.Uaddr, u.Len);
                Guarded(cmd, () => RequireSev().LaunchUpdateData(GpaOfHost(u.Uaddr), data));
                break;
            case KvmSevCmdId.LaunchUpdateVmsa when Type != KvmVmType.SevEs:
                throw new KvmException(Errno.ENOTTY, $"KVM_SEV_LAUNCH_UPDATE_VMSA on a {Type.Name()} VM (sev_launch_update_vmsa needs SEV-ES)");
            case KvmSevCmdId.LaunchUpdateVmsa:
                var order = VcpusInOrder();
                for (int i = 0; i < order.Count; i++)
                {
                    var vmsa = order[i].SevEsSaveArea ?? throw new KvmException(Errno.EINVAL, $"vCPU {order[i].Id} has no VMSA");
                    Guarded(cmd, () => RequireSev().LaunchUpdateVmsa(i, vmsa));
                }

                break;
            case KvmSevCmdId.LaunchMeasure:
                Guarded(cmd, () => RequireSev().LaunchMeasure());
                break;
            default:
                throw new KvmException(Errno.EINVAL, $"SEV command {(uint)cmd.Id} is not supported on a {Type.Name()} VM");
        }
    }

    /// <summary>
    /// <c>sev_pin_memory</c> for LAUNCH_UPDATE_DATA: an empty or wrapping range is EINVAL; pages that cannot be
    /// pinned (unmapped host memory) are ENOMEM.
    /// </summary>
    private byte[] PinSevSource(ulong uaddr, uint len)
    {
        if (len == 0 || uaddr + len < uaddr)
        {
            throw new KvmException(Errno.EINVAL, $"KVM_SEV_LAUNCH_UPDATE_DATA: range 0x{uaddr:x}+0x{len:x} is empty or wraps");
        }

        var data = new byte[len];
        try
        {
            Kvm.Host.Read(new Memory.Hva(uaddr), data);
        }
        catch (Memory.HostFaultException e)
        {
            throw new KvmException(Errno.ENOMEM, $"KVM_SEV_LAUNCH_UPDATE_DATA: cannot pin 0x{uaddr:x}+0x{len:x}: {e.Message}");
        }

        return data;
    }

    private SevGuestContext RequireSev() => Sev ?? throw new KvmException(Errno.EINVAL, "no KVM_SEV_LAUNCH_START");

    private static void Guarded(KvmSevCmd cmd, Action firmware)
    {
        try
        {
            firmware();
        }
        catch (SnpFirmwareException e)
        {
            cmd.Error = (uint)e.Status;
            throw new KvmException(Errno.EIO, e.Message);
        }
    }

    /// <summary>The GPA a host address is mapped at through a memslot (for the log), or the address itself.</summary>
    private Gpa GpaOfHost(ulong hva)
    {
        var slot = slots.All.FirstOrDefault(s => hva >= s.UserspaceAddr.Value && hva < s.UserspaceAddr.Value + (s.NPages * Page));
        return slot is null ? new Gpa(hva) : new Gpa((slot.BaseGfn * Page) + hva - slot.UserspaceAddr.Value);
    }
}
