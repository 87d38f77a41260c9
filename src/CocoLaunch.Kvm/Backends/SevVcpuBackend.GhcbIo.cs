using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Kvm;

/// <summary>
/// The GHCB NAE events that move data through a scratch area (guest-abi.md §5.3): IOIO, string IOIO, MMIO read and
/// write, and the extended guest request's certificate table, as <c>sev_handle_vmgexit</c> and
/// <c>setup_vmgexit_scratch</c> handle them.
/// </summary>
public sealed partial class SevVcpuBackend
{
    /// <summary>A scratch area outside the GHCB page may be at most 16 pages (GHCB_SCRATCH_AREA_LIMIT).</summary>
    public const ulong GhcbScratchAreaLimit = 16 * Page;

    private const ulong GhcbErrInvalidScratchArea = 3, GhcbErrInvalidInput = 5;

    /// <summary>
    /// The bytes of SW_SCRATCH for one event: inside the GHCB's shared buffer they are the GHCB's own bytes; outside
    /// it KVM copies them in and, for data coming back to the guest, out again when the event completes.
    /// </summary>
    private sealed record ScratchArea(ulong Gpa, bool InGhcb, byte[] Data);

    /// <summary>IOIO: EXITINFO1 bit 0 IN, bit 2 string, bits 4–6 the size, [31:16] the port; OUT data in RAX, IN data back in RAX.</summary>
    private KvmExit? GhcbIoio(ulong ghcbGpa, byte[] ghcb, byte[] valid, ulong info1, ulong info2, ref ulong result1, ref ulong result2)
    {
        bool isIn = (info1 & 1) != 0, isString = (info1 & 4) != 0;
        int size = ((info1 >> 4) & 7) switch { 1 => 1, 2 => 2, 4 => 4, _ => 0 };
        var port = (ushort)(info1 >> 16);
        if (isString ? !IsValid(valid, Ghcb.Scratch) : !isIn && !IsValid(valid, Ghcb.Rax))
        {
            (result1, result2) = (2, 4); // missing input
            return null;
        }

        if (size == 0)
        {
            (result1, result2) = (2, GhcbErrInvalidInput);
            return null;
        }

        if (isString)
        {
            return GhcbStringIo(ghcbGpa, ghcb, isIn, size, port, info2, ref result1, ref result2);
        }

        if (!isIn)
        {
            SharedAccess(ghcbGpa, ghcb, write: true);
            return new KvmExit.Io(true, size, port, 1, BitConverter.GetBytes(U64(ghcb, Ghcb.Rax))[..size]);
        }

        var exit = new KvmExit.Io(false, size, port, 1, new byte[size]);
        snpPending = new SnpPending(exit, e =>
        {
            var data = new byte[8];
            ((KvmExit.Io)e).Data.CopyTo(data, 0);
            SetRegisters(ghcb, BitConverter.ToUInt64(data), U64(ghcb, Ghcb.Rbx), U64(ghcb, Ghcb.Rcx), U64(ghcb, Ghcb.Rdx));
            SharedAccess(ghcbGpa, ghcb, write: true);
            return null;
        });
        SharedAccess(ghcbGpa, ghcb, write: true);
        return exit;
    }

    /// <summary>
    /// String I/O (INS/OUTS): EXITINFO2 transfers of the size through SW_SCRATCH, in KVM_EXIT_IOs of at most a page of
    /// data each (<c>kvm_sev_es_outs</c>/<c>kvm_sev_es_ins</c>); IN data lands in the scratch area.
    /// </summary>
    private KvmExit? GhcbStringIo(ulong ghcbGpa, byte[] ghcb, bool isIn, int size, ushort port, ulong count, ref ulong result1, ref ulong result2)
    {
        if (count > int.MaxValue)
        {
            throw new KvmException(Errno.EINVAL, $"VMGEXIT IOIO with a string count of {count}");
        }

        if (SetupScratch(ghcbGpa, ghcb, count * (ulong)size) is not { } scratch)
        {
            (result1, result2) = (2, GhcbErrInvalidScratchArea);
            return null;
        }

        return NextStringIo(ghcbGpa, ghcb, scratch, isIn, size, port, 0, (uint)count);
    }

    private KvmExit? NextStringIo(ulong ghcbGpa, byte[] ghcb, ScratchArea scratch, bool isIn, int size, ushort port, uint done, uint count)
    {
        if (done == count)
        {
            return FinishScratch(ghcbGpa, ghcb, scratch, copyOut: isIn);
        }

        uint chunk = Math.Min((uint)(Page / (ulong)size), count - done);
        var data = scratch.Data.AsSpan((int)(done * size), (int)(chunk * size));
        var exit = new KvmExit.Io(!isIn, size, port, chunk, isIn ? new byte[data.Length] : data.ToArray());
        snpPending = new SnpPending(exit, e =>
        {
            if (isIn)
            {
                ((KvmExit.Io)e).Data.CopyTo(scratch.Data.AsSpan((int)(done * size)));
            }

            return NextStringIo(ghcbGpa, ghcb, scratch, isIn, size, port, done + chunk, count);
        });
        return exit;
    }

    /// <summary>
    /// MMIO read or write (NAE 0x80000001/2): EXITINFO1 the GPA, EXITINFO2 the length, the data in SW_SCRATCH; one
    /// KVM_EXIT_MMIO per 8 bytes, as KVM fragments it (<c>kvm_sev_es_mmio_read</c>/<c>_write</c>).
    /// </summary>
    private KvmExit? GhcbMmio(ulong ghcbGpa, byte[] ghcb, byte[] valid, bool isWrite, ulong gpa, ulong length, ref ulong result1, ref ulong result2)
    {
        if (!IsValid(valid, Ghcb.Scratch))
        {
            (result1, result2) = (2, 4); // missing input
            return null;
        }

        if (SetupScratch(ghcbGpa, ghcb, length) is not { } scratch)
        {
            (result1, result2) = (2, GhcbErrInvalidScratchArea);
            return null;
        }

        return NextMmio(ghcbGpa, ghcb, scratch, isWrite, gpa, 0);
    }

    private KvmExit? NextMmio(ulong ghcbGpa, byte[] ghcb, ScratchArea scratch, bool isWrite, ulong gpa, int done)
    {
        if (done == scratch.Data.Length)
        {
            return FinishScratch(ghcbGpa, ghcb, scratch, copyOut: !isWrite);
        }

        int length = Math.Min(8, scratch.Data.Length - done);
        var data = isWrite ? scratch.Data.AsSpan(done, length).ToArray() : new byte[length];
        var exit = new KvmExit.Mmio(new Gpa(gpa + (ulong)done), length, isWrite, data);
        snpPending = new SnpPending(exit, e =>
        {
            if (!isWrite)
            {
                ((KvmExit.Mmio)e).Data.AsSpan(0, length).CopyTo(scratch.Data.AsSpan(done));
            }

            return NextMmio(ghcbGpa, ghcb, scratch, isWrite, gpa, done + length);
        });
        return exit;
    }

    /// <summary>
    /// Extended guest request (NAE 0x80000012). For MSG_REPORT_REQ KVM wants RAX (a page-aligned certificate buffer)
    /// and RBX (its pages) valid, else 2/5, and writes an empty certificate table: the 24-byte zero entry that ends one.
    /// Then it is the plain guest request. KVM reads msg_type from the request page's clear-text header.
    /// </summary>
    private (ulong, ulong) ExtendedGuestRequest(byte[] ghcb, byte[] valid, ulong requestGpa, ulong responseGpa)
    {
        var msgType = new byte[1];
        if (SharedAccess(requestGpa + SnpMessageTypeOffset, msgType, write: false) && msgType[0] == Firmware.Snp.SnpGuestContext.MsgReportReq)
        {
            ulong certificates = U64(ghcb, Ghcb.Rax), pages = U64(ghcb, Ghcb.Rbx);
            if (!IsValid(valid, Ghcb.Rax) || !IsValid(valid, Ghcb.Rbx) || certificates % Page != 0)
            {
                return (2, GhcbErrInvalidInput);
            }

            if (pages != 0 && !SharedAccess(certificates, new byte[24], write: true))
            {
                throw new KvmException(Errno.EIO, $"the extended guest request's certificate buffer at 0x{certificates:x} is not shared memory");
            }
        }

        return (0, GuestRequest(requestGpa, responseGpa));
    }

    /// <summary>msg_type in the guest message header (the AAD, so in clear text).</summary>
    private const ulong SnpMessageTypeOffset = 0x34;

    /// <summary>
    /// <c>setup_vmgexit_scratch</c>: SW_SCRATCH non-zero; inside the GHCB page only within [GHCB + 0x800, GHCB + 0xFF0);
    /// outside it at most 16 pages of shared memory, copied in. Null for an invalid scratch area.
    /// </summary>
    private ScratchArea? SetupScratch(ulong ghcbGpa, byte[] ghcb, ulong length)
    {
        ulong begin = U64(ghcb, Ghcb.Scratch);
        if (begin == 0 || begin + length < begin)
        {
            return null;
        }

        if ((begin & ~(Page - 1)) == ghcbGpa)
        {
            if (begin < ghcbGpa + Ghcb.SharedBuffer || begin + length > ghcbGpa + Ghcb.SharedBufferEnd)
            {
                return null;
            }

            return new ScratchArea(begin, true, ghcb.AsSpan((int)(begin - ghcbGpa), (int)length).ToArray());
        }

        var data = new byte[length <= GhcbScratchAreaLimit ? length : 0];
        return length <= GhcbScratchAreaLimit && SharedRange(begin, data, write: false) ? new ScratchArea(begin, false, data) : null;
    }

    /// <summary>Ends a scratch event: data for the guest goes back into the scratch area, and the GHCB is written.</summary>
    private KvmExit? FinishScratch(ulong ghcbGpa, byte[] ghcb, ScratchArea scratch, bool copyOut)
    {
        if (copyOut && scratch.InGhcb)
        {
            scratch.Data.CopyTo(ghcb.AsSpan((int)(scratch.Gpa - ghcbGpa)));
        }
        else if (copyOut && !SharedRange(scratch.Gpa, scratch.Data, write: true))
        {
            throw new KvmException(Errno.EFAULT, $"the scratch area at 0x{scratch.Gpa:x} is no longer shared memory");
        }

        SharedAccess(ghcbGpa, ghcb, write: true);
        return null;
    }

    /// <summary><see cref="SharedAccess"/> across page boundaries.</summary>
    private bool SharedRange(ulong gpa, Span<byte> buffer, bool write)
    {
        for (int at = 0; at < buffer.Length;)
        {
            int n = (int)Math.Min((ulong)(buffer.Length - at), Page - ((gpa + (ulong)at) % Page));
            if (!SharedAccess(gpa + (ulong)at, buffer.Slice(at, n), write))
            {
                return false;
            }

            at += n;
        }

        return true;
    }
}
