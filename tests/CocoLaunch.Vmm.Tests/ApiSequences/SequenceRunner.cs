using System.Collections.Concurrent;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Snp;
using CocoLaunch.Kvm;
using CocoLaunch.Tests.Shared;
using static CocoLaunch.Vmm.Tests.ApiSequences.ArgGen;
using static CocoLaunch.Vmm.Tests.ApiSequences.SequenceVm;

namespace CocoLaunch.Vmm.Tests.ApiSequences;

/// <summary>How the sequence's little VMM answers conversion requests (MAP_GPA_RANGE and memory-fault exits).</summary>
internal enum ExitConversion
{
    /// <summary>KVM_SET_MEMORY_ATTRIBUTES only: both backings keep their contents.</summary>
    Attributes,

    /// <summary>Attributes, and PUNCH_HOLE of the guest_memfd range when it goes shared (selftest "fallocate on conversion").</summary>
    AttributesWithPunch,

    /// <summary>KVM_GMEM_CONVERT_* on the guest_memfd: one set of pages, contents kept both ways.</summary>
    InPlace,
}

/// <summary>
/// Draws and issues random ioctls against one <see cref="SequenceVm"/>. Every ioctl goes through <see cref="Call"/>:
/// a <see cref="KvmException"/> is an errno and fine; any other exception is a failure recorded with the seed,
/// thread, step and operation. With a <see cref="DataShadow"/> (single-threaded runs) guest reads are checked.
/// </summary>
internal sealed class SequenceRunner(SequenceVm w, long seed, ExitConversion conversion, DataShadow? shadow)
{
    private long ops;
    private long errnos;

    public ConcurrentQueue<string> Failures { get; } = new();

    public long Operations => Interlocked.Read(ref ops);

    public long Errnos => Interlocked.Read(ref errnos);

    public void Fail(int thread, int step, string what, string problem) =>
        Failures.Enqueue($"seed {seed} ({w.Kind}, thread {thread}, step {step}): {what}: {problem}");

    /// <summary>Issues one ioctl; false when it failed with an errno (or, recorded as a failure, anything else).</summary>
    private bool Call(int thread, int step, Func<string> what, Action ioctl)
    {
        Interlocked.Increment(ref ops);
        try
        {
            ioctl();
            return true;
        }
        catch (KvmException e)
        {
            Interlocked.Increment(ref errnos);
            if (e.Errno == 0 || !Enum.IsDefined(e.Errno))
            {
                Fail(thread, step, what(), $"KvmException without a valid errno ({(int)e.Errno}): {e.Detail}");
            }

            return false;
        }
        catch (Exception e)
        {
            Fail(thread, step, what(), $"{e.GetType().Name} left the ioctl: {e.Message}\n{e.StackTrace}");
            return false;
        }
    }

    /// <summary>One random operation. Thread 0 and 1 own vCPU 0 and 1 for KVM_RUN; any thread may pre-fault any vCPU.</summary>
    public void Step(Random r, int thread, int step, bool runsGuests)
    {
        int roll = r.Next(100);
        if (runsGuests && roll < 30)
        {
            RunGuest(r, thread, step, w.Vcpus[Math.Min(thread, w.Vcpus.Count - 1)]);
            return;
        }

        switch (roll % 20)
        {
            case 0 or 1 or 2:
                PreFault(r, thread, step);
                break;
            case 3 or 4 or 5:
                SetAttributes(r, thread, step);
                break;
            case 6 or 7:
                CreateSlot(r, thread, step);
                break;
            case 8:
                DeleteSlot(r, thread, step);
                break;
            case 9:
                MoveSlot(r, thread, step);
                break;
            case 10 or 11:
                Fallocate(r, thread, step);
                break;
            case 12:
                Convert(r, thread, step);
                break;
            case 13 or 14 or 15:
                Launch(r, thread, step);
                break;
            case 16:
                MapGpaFromHost(r, thread, step);
                break;
            default:
                Misc(r, thread, step);
                break;
        }
    }

    private void PreFault(Random r, int thread, int step)
    {
        var vcpu = w.Vcpus[r.Next(w.Vcpus.Count)];
        var args = new KvmPreFaultMemory { Gpa = Address(r), Size = Size(r) };
        if (Corrupt(r))
        {
            args.Flags = RandomBits(r);
        }

        if (r.Next(4) == 0)
        {
            args.Padding0 = RandomBits(r); // not checked by KVM
        }

        var before = args;
        bool ok = Call(thread, step, () => $"KVM_PRE_FAULT_MEMORY(vcpu {vcpu.Id}, gpa 0x{before.Gpa:x}, size 0x{before.Size:x}, flags 0x{before.Flags:x})", () => vcpu.PreFaultMemory(ref args));
        if (ok && args.Size >= before.Size)
        {
            Fail(thread, step, $"KVM_PRE_FAULT_MEMORY(gpa 0x{before.Gpa:x}, size 0x{before.Size:x})", $"returned 0 without progress (size 0x{args.Size:x})");
        }

        if (args.Gpa + args.Size != before.Gpa + before.Size && before.Gpa % K4 == 0 && before.Size % K4 == 0)
        {
            Fail(thread, step, $"KVM_PRE_FAULT_MEMORY(gpa 0x{before.Gpa:x}, size 0x{before.Size:x})", $"gpa/size copied back as 0x{args.Gpa:x}/0x{args.Size:x}: the end moved");
        }
    }

    private void SetAttributes(Random r, int thread, int step)
    {
        var args = new KvmMemoryAttributesArgs
        {
            Address = Address(r),
            Size = Size(r),
            Attributes = r.Next(2) == 0 ? KvmMemoryAttributes.Private : 0,
        };
        if (Corrupt(r))
        {
            if (r.Next(2) == 0)
            {
                args.Flags = RandomBits(r);
            }
            else
            {
                args.Attributes = (KvmMemoryAttributes)RandomBits(r);
            }
        }

        Call(thread, step, () => $"KVM_SET_MEMORY_ATTRIBUTES(0x{args.Address:x}, 0x{args.Size:x}, attrs 0x{(ulong)args.Attributes:x}, flags 0x{args.Flags:x})", () => w.Vm.SetMemoryAttributes(args));
    }

    private void CreateSlot(Random r, int thread, int step)
    {
        int id = r.Next(SlotIds);
        bool gmem = w.HasPrivateMemory ? r.Next(5) != 0 : r.Next(3) == 0;
        ulong npages = Pages(r);
        ulong page = r.Next(2) == 0 ? (ulong)r.Next(4) * 512 : WindowPage(r);
        int file = r.Next(2);
        ulong gmemPages = GmemBytes / K4;
        ulong offsetPages = r.Next(3) switch
        {
            0 => 0,
            1 => (ulong)r.Next(4) * 512,
            _ => (ulong)r.Next((int)gmemPages),
        };
        var region = new KvmUserspaceMemoryRegion2
        {
            Slot = (uint)id,
            Flags = gmem ? KvmMemFlags.GuestMemfd : 0,
            GuestPhysAddr = Base + (page * K4),
            MemorySize = npages * K4,
            UserspaceAddr = w.HostRegions[id].Value + (r.Next(8) == 0 ? K4 : 0),
            GuestMemfd = gmem ? w.GmemFd(file) : -1,
            GuestMemfdOffset = Math.Min(offsetPages, gmemPages - Math.Min(gmemPages, npages)) * K4,
        };
        if (r.Next(10) == 0)
        {
            region.Flags |= KvmMemFlags.LogDirtyPages;
        }

        if (r.Next(20) == 0)
        {
            region.Flags |= KvmMemFlags.Readonly;
        }

        if (Corrupt(r))
        {
            switch (r.Next(8))
            {
                case 0:
                    region.Flags |= (KvmMemFlags)(1u << r.Next(3, 32));
                    break;
                case 1:
                    region.Slot = r.Next(2) == 0 ? (1u << 16) | (uint)id : (uint)r.Next(SlotIds, 40000);
                    break;
                case 2:
                    region.MemorySize = BadSize(r);
                    break;
                case 3:
                    region.GuestPhysAddr = BadAddress(r);
                    break;
                case 4:
                    region.GuestMemfdOffset = RandomBits(r);
                    break;
                case 5:
                    region.GuestMemfd = r.Next(3) switch { 0 => w.Vm.Fd, 1 => w.Vcpus[0].Fd, _ => r.Next(-2, 200) };
                    region.Flags |= KvmMemFlags.GuestMemfd;
                    break;
                case 6:
                    region.UserspaceAddr = RandomBits(r);
                    break;
                default:
                    region.GuestMemfd = w.GmemFd(1 - file); // the other file, maybe overlapping another binding
                    region.Flags |= KvmMemFlags.GuestMemfd;
                    break;
            }
        }

        Call(thread, step, () => $"KVM_SET_USER_MEMORY_REGION2({Describe(region)})", () => w.Vm.SetUserMemoryRegion2(region));
    }

    private void DeleteSlot(Random r, int thread, int step)
    {
        uint id = (uint)r.Next(SlotIds);
        Call(thread, step, () => $"KVM_SET_USER_MEMORY_REGION2(delete slot {id})", () => w.Vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = id, GuestMemfd = -1 }));
    }

    /// <summary>Move (new GPA, same userspace address and size) or a FLAGS_ONLY change of dirty logging; on a gmem slot, EINVAL.</summary>
    private void MoveSlot(Random r, int thread, int step)
    {
        var slots = w.Vm.Memslots;
        if (slots.Count == 0)
        {
            return;
        }

        var old = slots[r.Next(slots.Count)];
        var region = new KvmUserspaceMemoryRegion2
        {
            Slot = (uint)old.Id | ((uint)old.AddressSpace << 16),
            Flags = old.Flags ^ (r.Next(4) == 0 ? KvmMemFlags.LogDirtyPages : 0),
            GuestPhysAddr = r.Next(4) == 0 ? old.BaseGfn * K4 : Gpa(r),
            MemorySize = old.NPages * K4,
            UserspaceAddr = old.UserspaceAddr.Value,
            GuestMemfd = -1,
        };
        Call(thread, step, () => $"KVM_SET_USER_MEMORY_REGION2(move {Describe(region)})", () => w.Vm.SetUserMemoryRegion2(region));
    }

    private void Fallocate(Random r, int thread, int step)
    {
        var file = w.Gmem(r.Next(2));
        if (file is null)
        {
            return;
        }

        var mode = r.Next(2) == 0 ? FallocateMode.KeepSize : FallocateMode.KeepSize | FallocateMode.PunchHole;
        ulong offset = (ulong)r.Next((int)(GmemBytes / K4)) * K4;
        ulong length = Pages(r) * K4;
        if (Corrupt(r))
        {
            switch (r.Next(4))
            {
                case 0:
                    mode = (FallocateMode)r.Next(0x20);
                    break;
                case 1:
                    offset = RandomBits(r);
                    break;
                case 2:
                    length = BadSize(r);
                    break;
                default:
                    offset = GmemBytes;
                    break;
            }
        }

        bool ok = Call(thread, step, () => $"fallocate(gmem {file.Inode}, mode {mode}, 0x{offset:x}, 0x{length:x})", () => file.Fallocate(mode, offset, length));
        if (ok && mode.HasFlag(FallocateMode.PunchHole) && offset < GmemBytes)
        {
            shadow?.Punch(file.Inode, offset / K4, Math.Min(length, GmemBytes - offset) / K4);
        }
    }

    private void Convert(Random r, int thread, int step)
    {
        var file = w.Gmem(r.Next(2));
        if (file is null)
        {
            return;
        }

        var args = new KvmGmemConvert { Offset = (ulong)r.Next((int)(GmemBytes / K4)) * K4, Size = Pages(r) * K4 };
        if (Corrupt(r))
        {
            switch (r.Next(3))
            {
                case 0:
                    args.ErrorOffset = RandomBits(r);
                    break;
                case 1:
                    args.Offset = RandomBits(r);
                    break;
                default:
                    args.Size = BadSize(r);
                    break;
            }
        }

        bool toPrivate = r.Next(2) == 0;
        Call(thread, step, () => $"KVM_GMEM_CONVERT_{(toPrivate ? "PRIVATE" : "SHARED")}(gmem {file.Inode}, 0x{args.Offset:x}, 0x{args.Size:x}, error_offset 0x{args.ErrorOffset:x})", () =>
        {
            if (toPrivate)
            {
                file.ConvertPrivate(ref args);
            }
            else
            {
                file.ConvertShared(ref args);
            }
        });
    }

    /// <summary>A conversion as the VMM's exit handlers make it, issued from a thread that is not running the guest.</summary>
    private void MapGpaFromHost(Random r, int thread, int step) => ConvertRange(thread, step, Gpa(r), Pages(r) * K4, r.Next(2) == 0);

    private void Launch(Random r, int thread, int step)
    {
        switch (w.Kind)
        {
            case SequenceVmKind.Tdx:
                TdxLaunch(r, thread, step);
                break;
            case SequenceVmKind.Snp:
                SnpLaunch(r, thread, step);
                break;
            default:
                // Vendor commands on a VM without a vendor: ENOTTY, never anything else.
                if (r.Next(2) == 0)
                {
                    Call(thread, step, () => "KVM_MEMORY_ENCRYPT_OP(tdx INIT_VM) on a non-TD", () => w.Vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.InitVm, Data = new KvmTdxInitVm() }));
                }
                else
                {
                    Call(thread, step, () => "KVM_MEMORY_ENCRYPT_OP(SNP_LAUNCH_START) on a non-SNP VM", () => w.Vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchStart, Data = new KvmSevSnpLaunchStart { Policy = 0x30000 } }));
                }

                break;
        }
    }

    private void TdxLaunch(Random r, int thread, int step)
    {
        var vcpu = w.Vcpus[r.Next(w.Vcpus.Count)];
        ulong hwError = Corrupt(r) ? RandomBits(r) : 0;
        switch (r.Next(12))
        {
            case 0:
                var init = new KvmTdxCmd { Id = KvmTdxCmdId.InitVcpu, Data = 0UL, HwError = hwError, Flags = Corrupt(r) ? 1u : 0 };
                Call(thread, step, () => $"KVM_TDX_INIT_VCPU(vcpu {vcpu.Id}, flags {init.Flags}, hw_error 0x{hwError:x})", () => vcpu.MemoryEncryptOp(init));
                break;
            case 1 or 2 or 3 or 4 or 5:
                var region = new KvmTdxInitMemRegion { SourceAddr = w.Source.Value + ((ulong)r.Next(16) * K4), Gpa = Gpa(r), NrPages = (ulong)r.Next(1, 9) };
                if (Corrupt(r))
                {
                    switch (r.Next(4))
                    {
                        case 0:
                            region.SourceAddr = RandomBits(r);
                            break;
                        case 1:
                            region.Gpa = BadAddress(r);
                            break;
                        case 2:
                            region.NrPages = RandomBits(r);
                            break;
                        default:
                            region.NrPages = 0;
                            break;
                    }
                }

                uint flags = r.Next(2) == 0 ? KvmTdxFlags.MeasureMemoryRegion : 0;
                if (Corrupt(r))
                {
                    flags |= 1u << r.Next(1, 32);
                }

                var before = region;
                var cmd = new KvmTdxCmd { Id = KvmTdxCmdId.InitMemRegion, Flags = flags, Data = region, HwError = hwError };
                Call(thread, step, () => $"KVM_TDX_INIT_MEM_REGION(vcpu {vcpu.Id}, src 0x{before.SourceAddr:x}, gpa 0x{before.Gpa:x}, pages 0x{before.NrPages:x}, flags 0x{flags:x})", () => vcpu.MemoryEncryptOp(cmd));
                if (cmd.Data is KvmTdxInitMemRegion after && !(after.Equals(before)))
                {
                    // §13.1: the struct shows exactly the pages added: gpa and source advanced by n pages, nr_pages down by n.
                    ulong n = before.NrPages - after.NrPages;
                    if (after.Gpa != before.Gpa + (n * K4) || after.SourceAddr != before.SourceAddr + (n * K4) || n > before.NrPages)
                    {
                        Fail(thread, step, "KVM_TDX_INIT_MEM_REGION", $"copied back {after.Gpa:x}/{after.SourceAddr:x}/{after.NrPages} from {before.Gpa:x}/{before.SourceAddr:x}/{before.NrPages}: progress is not consistent");
                    }
                }

                break;
            case 6 or 7:
                var finalize = new KvmTdxCmd { Id = KvmTdxCmdId.FinalizeVm, HwError = hwError, Flags = Corrupt(r) ? 1u : 0, Data = Corrupt(r) ? 1UL : null };
                Call(thread, step, () => $"KVM_TDX_FINALIZE_VM(flags {finalize.Flags}, data {finalize.Data}, hw_error 0x{hwError:x})", () => w.Vm.MemoryEncryptOp(finalize));
                break;
            case 8:
                var caps = new KvmTdxCmd { Id = KvmTdxCmdId.Capabilities, HwError = hwError, Data = new KvmTdxCapabilities { CpuidNent = (uint)r.Next(0, 8) } };
                Call(thread, step, () => "KVM_TDX_CAPABILITIES", () => w.Vm.MemoryEncryptOp(caps));
                break;
            case 9:
                var again = new KvmTdxCmd
                {
                    Id = KvmTdxCmdId.InitVm,
                    HwError = hwError,
                    Data = new KvmTdxInitVm { Attributes = RandomBits(r), Xfam = RandomBits(r), Cpuid = [KvmTdxInitVm.GuestPhysBits((uint)r.Next(40, 60))], CpuidPadding = (uint)r.Next(2) },
                };
                Call(thread, step, () => "KVM_TDX_INIT_VM (again, random)", () => w.Vm.MemoryEncryptOp(again));
                break;
            case 10:
                var unknown = new KvmTdxCmd { Id = (KvmTdxCmdId)r.Next(7, 200), HwError = hwError };
                Call(thread, step, () => $"KVM_MEMORY_ENCRYPT_OP(tdx id {(uint)unknown.Id})", () => w.Vm.MemoryEncryptOp(unknown));
                Call(thread, step, () => $"vCPU KVM_MEMORY_ENCRYPT_OP(tdx id {(uint)unknown.Id})", () => vcpu.MemoryEncryptOp(unknown));
                break;
            default:
                if (r.Next(25) == 0)
                {
                    Call(thread, step, () => "KVM_TDX_TERMINATE_VM", () => w.Vm.MemoryEncryptOp(new KvmTdxCmd { Id = KvmTdxCmdId.TerminateVm }));
                }
                else
                {
                    Call(thread, step, () => "KVM_MEMORY_ENCRYPT_OP(null)", () => w.Vm.MemoryEncryptOp((KvmTdxCmd?)null));
                }

                break;
        }
    }

    private void SnpLaunch(Random r, int thread, int step)
    {
        switch (r.Next(10))
        {
            case 0 or 1:
                var start = new KvmSevSnpLaunchStart { Policy = 0x30000, Flags = 0 };
                if (Corrupt(r))
                {
                    start.Policy = r.Next(2) == 0 ? RandomBits(r) : 0x30000 | (1UL << r.Next(16, 64));
                    start.Flags = (ushort)r.Next(1, 0x10000);
                }

                Call(thread, step, () => $"KVM_SEV_SNP_LAUNCH_START(policy 0x{start.Policy:x}, flags 0x{start.Flags:x})", () => w.Vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchStart, Data = start }));
                break;
            case 2 or 3 or 4 or 5:
                byte[] types = [1, 1, 3, 4, 5, 6];
                var u = new KvmSevSnpLaunchUpdate { GfnStart = Gpa(r) / K4, Uaddr = w.Source.Value + ((ulong)r.Next(16) * K4), Len = (ulong)r.Next(1, 9) * K4, Type = types[r.Next(types.Length)] };
                if (Corrupt(r))
                {
                    switch (r.Next(5))
                    {
                        case 0:
                            u.Type = (byte)r.Next(256);
                            break;
                        case 1:
                            u.Flags = (ushort)r.Next(1, 0x10000);
                            break;
                        case 2:
                            u.Len = BadSize(r);
                            break;
                        case 3:
                            u.Uaddr = RandomBits(r);
                            break;
                        default:
                            u.GfnStart = RandomBits(r);
                            break;
                    }
                }

                var before = u;
                var cmd = new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchUpdate, Data = u };
                bool ok = Call(thread, step, () => $"KVM_SEV_SNP_LAUNCH_UPDATE(gfn 0x{before.GfnStart:x}, uaddr 0x{before.Uaddr:x}, len 0x{before.Len:x}, type {before.Type}, flags {before.Flags})", () => w.Vm.MemoryEncryptOp(cmd));
                if (ok && cmd.Data is KvmSevSnpLaunchUpdate after)
                {
                    // §13.1: gfn_start += n, len -= n pages, uaddr += n pages (not for ZERO).
                    ulong n = after.GfnStart - before.GfnStart;
                    ulong uaddr = before.Type == (byte)SnpPageType.Zero ? before.Uaddr : before.Uaddr + (n * K4);
                    if (n > before.Len / K4 || after.Len != before.Len - (n * K4) || after.Uaddr != uaddr || (n == 0 && before.Len != 0))
                    {
                        Fail(thread, step, "KVM_SEV_SNP_LAUNCH_UPDATE", $"copied back gfn 0x{after.GfnStart:x} len 0x{after.Len:x} uaddr 0x{after.Uaddr:x} from gfn 0x{before.GfnStart:x} len 0x{before.Len:x} uaddr 0x{before.Uaddr:x}");
                    }
                }

                break;
            case 6 or 7:
                var finish = new KvmSevSnpLaunchFinish { HostData = new byte[32] };
                if (Corrupt(r))
                {
                    finish.Flags = (ushort)r.Next(1, 0x10000);
                    finish.IdBlockEn = (byte)r.Next(2);
                    finish.IdBlockUaddr = RandomBits(r);
                    finish.IdAuthUaddr = w.Source.Value;
                }

                Call(thread, step, () => $"KVM_SEV_SNP_LAUNCH_FINISH(flags 0x{finish.Flags:x}, id_block_en {finish.IdBlockEn})", () => w.Vm.MemoryEncryptOp(new KvmSevCmd { Id = KvmSevCmdId.SnpLaunchFinish, Data = finish }));
                break;
            case 8:
                var legacy = (KvmSevCmdId)r.Next(0, 30);
                Call(thread, step, () => $"KVM_MEMORY_ENCRYPT_OP(sev id {(uint)legacy})", () => w.Vm.MemoryEncryptOp(new KvmSevCmd { Id = legacy }));
                break;
            default:
                var other = (KvmSevCmdId)r.Next(100, 120);
                Call(thread, step, () => $"KVM_MEMORY_ENCRYPT_OP(sev id {(uint)other}, no data)", () => w.Vm.MemoryEncryptOp(new KvmSevCmd { Id = other }));
                break;
        }
    }

    private void Misc(Random r, int thread, int step)
    {
        switch (r.Next(6))
        {
            case 0:
                var cap = new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = r.Next(3) == 0 ? RandomBits(r) : KvmLimits.ExitHypercallValidMask, Flags = Corrupt(r) ? 1u : 0 };
                Call(thread, step, () => $"KVM_ENABLE_CAP(EXIT_HYPERCALL, 0x{cap.Arg0:x}, flags {cap.Flags})", () => w.Vm.EnableCap(cap));
                break;
            case 1:
                var v1 = new KvmUserspaceMemoryRegion { Slot = (uint)r.Next(SlotIds), Flags = (KvmMemFlags)(1u << r.Next(0, 4)), GuestPhysAddr = Gpa(r), MemorySize = Pages(r) * K4, UserspaceAddr = w.HostRegions[r.Next(SlotIds)].Value };
                Call(thread, step, () => $"KVM_SET_USER_MEMORY_REGION(slot {v1.Slot}, flags {v1.Flags}, gpa 0x{v1.GuestPhysAddr:x}, size 0x{v1.MemorySize:x})", () => w.Vm.SetUserMemoryRegion(v1));
                break;
            case 2:
                var create = new KvmCreateGuestMemfd { Size = Corrupt(r) ? RandomBits(r) : GmemBytes, Flags = (GuestMemfdFlags)(ulong)r.Next(0, 8) };
                int fd = -1;
                if (Call(thread, step, () => $"KVM_CREATE_GUEST_MEMFD(size 0x{create.Size:x}, flags {create.Flags})", () => fd = w.Vm.CreateGuestMemfd(create)))
                {
                    w.Vm.Kvm.Fds.Close(fd);
                }

                break;
            case 3 when r.Next(3) == 0:
                int index = r.Next(2);
                var closing = w.Gmem(index);
                Call(thread, step, () => "close(guest_memfd) and KVM_CREATE_GUEST_MEMFD", () => w.ReplaceGmem(index, r));
                if (closing is not null)
                {
                    shadow?.Forget(closing.Inode);
                }

                break;
            case 4:
                w.Vcpus[r.Next(w.Vcpus.Count)].Kick(); // a signal to a vCPU thread
                break;
            default:
                Call(thread, step, () => "KVM_CHECK_EXTENSION", () =>
                {
                    foreach (var c in new[] { KvmCap.MemoryAttributes, KvmCap.GuestMemfd, KvmCap.GuestMemfdFlags, KvmCap.PreFaultMemory, KvmCap.ExitHypercall })
                    {
                        w.Vm.CheckExtension(c);
                    }
                });
                break;
        }
    }

    /// <summary>
    /// KVM_RUN of a short scripted guest with a tiny exit loop: MMIO reads answer 0xFF, MAP_GPA_RANGE and memory-fault
    /// exits convert (as the VMM's exit handlers do), anything else ends the run. Returns the guest, or null when KVM_RUN failed.
    /// </summary>
    public ScriptedGuest? RunGuest(Random r, int thread, int step, VcpuFd vcpu, GuestAction[]? script = null)
    {
        script ??= RandomScript(r);
        var guest = new ScriptedGuest(script);
        var tolerant = new TolerantGuest(guest);
        if (!Call(thread, step, () => "KVM_SET_REGS (attach a scripted guest)", () => vcpu.SetGuest(p => { guest.Attach(p); return tolerant; })))
        {
            return null;
        }

        vcpu.InstructionBudget = 64;
        Gpa? lastFault = null;
        for (int exits = 0; exits < 12; exits++)
        {
            KvmExit? exit = null;
            if (!Call(thread, step, () => $"KVM_RUN(vcpu {vcpu.Id}, script [{string.Join(", ", script.Select(a => a.ToString()))}])", () => exit = vcpu.Run()))
            {
                return null;
            }

            switch (exit)
            {
                case KvmExit.Mmio m:
                    if (!m.IsWrite)
                    {
                        Array.Fill(m.Data, (byte)0xFF);
                    }

                    continue;
                case KvmExit.Hypercall h:
                    bool ok = h.Nr == KvmLimits.HcMapGpaRange && ConvertRange(thread, step, h.Args[0], Math.Min(h.Args[1], 1UL << 20) * K4, (h.Args[2] & 0x10) != 0);
                    h.Ret = ok ? 0 : KvmHypercallError.EInval;
                    continue;
                case KvmExit.MemoryFault f:
                    if (lastFault == f.Info.Gpa)
                    {
                        return guest; // converting did not help (no guest_memfd, or another thread undid it)
                    }

                    lastFault = f.Info.Gpa;
                    ConvertRange(thread, step, f.Info.Gpa.Value, f.Info.Size, f.Info.IsPrivate);
                    continue;
                case KvmExit.TdxGetQuote q:
                    q.Ret = TdVmcallStatus.InvalidOperand;
                    continue;
                default:
                    return guest; // shutdown, halt, intr, internal error, system event, fail entry
            }
        }

        return guest;
    }

    private GuestAction[] RandomScript(Random r)
    {
        var actions = new GuestAction[r.Next(1, 5)];
        for (int i = 0; i < actions.Length; i++)
        {
            actions[i] = RandomAction(r);
        }

        return actions;
    }

    public GuestAction RandomAction(Random r)
    {
        ulong gpa = Gpa(r);
        int length = r.Next(1, 9);
        ulong at = gpa + (ulong)r.Next(0, (int)K4 - length);
        // A TD or SNP guest touching private memory it never accepted/validated kills or traps: keep that rare.
        bool? isPrivate = w.Confidential ? (r.Next(8) == 0 ? true : false) : (r.Next(3) == 0 ? null : r.Next(2) == 0);
        bool hypercalls = !w.Confidential || r.Next(10) == 0;
        switch (r.Next(10))
        {
            case 0 or 1 or 2 or 3:
                return new GuestAction.Read(new Gpa(at), length, isPrivate);
            case 4 or 5 or 6:
                var data = new byte[length];
                r.NextBytes(data);
                return new GuestAction.Write(new Gpa(at), data, isPrivate);
            case 7 or 8 when hypercalls:
                ulong a0 = Corrupt(r) ? BadAddress(r) : gpa;
                ulong a1 = Corrupt(r) ? RandomBits(r) : Pages(r);
                ulong a2 = (r.Next(2) == 0 ? 0x10UL : 0UL) | (uint)r.Next(3) | (Corrupt(r) ? RandomBits(r) & ~0x1FUL : 0UL);
                return new GuestAction.Hypercall(Corrupt(r) ? (ulong)r.Next(0, 20) : KvmLimits.HcMapGpaRange, a0, a1, a2, Cpl: Corrupt(r) ? 3 : 0, LongMode: !Corrupt(r));
            case 9 when r.Next(3) == 0:
                return new GuestAction.Halt();
            default:
                return new GuestAction.Read(new Gpa(at), length, isPrivate);
        }
    }

    /// <summary>The VMM's conversion of [gpa, gpa + size): attributes (and a punch going shared), or in place on the guest_memfd.</summary>
    public bool ConvertRange(int thread, int step, ulong gpa, ulong size, bool toPrivate)
    {
        gpa &= ~w.SharedBit;
        if (conversion == ExitConversion.InPlace)
        {
            var slot = w.Vm.Memslots.FirstOrDefault(s => s.Contains(gpa / K4));
            if (slot?.GuestMemfd is not { } file)
            {
                return false;
            }

            ulong pages = Math.Min(size / K4, slot.EndGfn - (gpa / K4));
            var args = new KvmGmemConvert { Offset = (slot.GuestMemfdPgoff + ((gpa / K4) - slot.BaseGfn)) * K4, Size = pages * K4 };
            return Call(thread, step, () => $"KVM_GMEM_CONVERT_{(toPrivate ? "PRIVATE" : "SHARED")}(0x{args.Offset:x}, 0x{args.Size:x}) for gpa 0x{gpa:x}", () =>
            {
                if (toPrivate)
                {
                    file.ConvertPrivate(ref args);
                }
                else
                {
                    file.ConvertShared(ref args);
                }
            });
        }

        var attrs = new KvmMemoryAttributesArgs { Address = gpa, Size = size, Attributes = toPrivate ? KvmMemoryAttributes.Private : 0 };
        if (!Call(thread, step, () => $"KVM_SET_MEMORY_ATTRIBUTES(0x{gpa:x}, 0x{size:x}, {(toPrivate ? "private" : "shared")}) for a conversion", () => w.Vm.SetMemoryAttributes(attrs)))
        {
            return false;
        }

        if (conversion == ExitConversion.AttributesWithPunch && !toPrivate && w.Vm.Memslots.FirstOrDefault(s => s.Contains(gpa / K4)) is { GuestMemfd: { } gmem } punchSlot)
        {
            ulong first = punchSlot.GuestMemfdPgoff + ((gpa / K4) - punchSlot.BaseGfn);
            ulong pages = Math.Min(size / K4, punchSlot.EndGfn - (gpa / K4));
            if (Call(thread, step, () => $"fallocate(PUNCH_HOLE, page {first}, {pages} pages) for a conversion to shared", () => gmem.Fallocate(FallocateMode.KeepSize | FallocateMode.PunchHole, first * K4, pages * K4)))
            {
                shadow?.Punch(gmem.Inode, first, pages);
            }
        }

        return true;
    }

    private static string Describe(KvmUserspaceMemoryRegion2 r) =>
        $"slot 0x{r.Slot:x}, flags {r.Flags}, gpa 0x{r.GuestPhysAddr:x}, size 0x{r.MemorySize:x}, uaddr 0x{r.UserspaceAddr:x}, gmem fd {r.GuestMemfd} @0x{r.GuestMemfdOffset:x}";
}
